"""The ``simulate`` command. ``register(app)`` adds it to the main command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from distillguard.simulate.engine import SimulationSummary, simulate
from distillguard.simulate.scenarios import ALL_KNOBS, SCENARIOS
from distillguard.simulate.writer import FORMATS

console = Console(stderr=True)


def simulate_command(
    out: Annotated[Path, typer.Option("--out", help="Directory for logs, accounts.jsonl and truth.jsonl.")],
    scenario: Annotated[
        str,
        typer.Option(
            "--scenario", help=f"One of {', '.join(SCENARIOS)}, optionally +knob (knobs: {', '.join(ALL_KNOBS)})."
        ),
    ] = "standard",
    scale: Annotated[float, typer.Option("--scale", help="1.0 = 224k accounts, 32M requests, 30 days.")] = 0.01,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")] = 0,
    fmt: Annotated[str, typer.Option("--format", help=f"One of: {', '.join(FORMATS)}.")] = "jsonl",
    split: Annotated[str, typer.Option("--split", help="Prompt split: test (evaluation) or train.")] = "test",
    extra_corpora: Annotated[
        bool,
        typer.Option("--extra-corpora", help="Also use the non-redistributable corpora when ../shared/data exists."),
    ] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
    infra_seed: Annotated[
        int | None,
        typer.Option("--infra-seed", help="Seed of the campaigns' proxies and clients, shared by simulated providers."),
    ] = None,
) -> None:
    """Generate API traffic with ground truth: benign users, hard negatives and distillation campaigns."""
    columns = (
        TextColumn("[bold]simulate"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("days"),
        TextColumn("{task.fields[requests]:,} requests"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task("", total=None, requests=0)

            def progress(done: int, total: int, requests: int) -> None:
                bar.update(task, completed=done, total=total, requests=requests)

            summary = simulate(
                scenario,
                scale,
                seed,
                out,
                fmt,
                split=split,
                extra_corpora=extra_corpora,
                progress=progress,
                infra_seed=infra_seed,
            )
    except ValueError as e:
        console.print(f"[bold red]error:[/] {e}", highlight=False)
        raise typer.Exit(1) from None
    if json_out:
        sys.stdout.write(orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print(summary)


def _print(s: SimulationSummary) -> None:
    table = Table(
        title=f"{s.scenario} at scale {s.scale}, seed {s.seed}: {s.requests:,} requests in "
        f"{s.seconds:.1f} s ({s.requests_per_second:,.0f}/s)",
        title_justify="left",
    )
    for col in ("role", "accounts", "requests"):
        table.add_column(col, justify="left" if col == "role" else "right")
    for role, n in s.accounts_by_role.items():
        table.add_row(role, f"{n:,}", f"{s.requests_by_role.get(role, 0):,}")
    console.print(table)
    for name, path in s.files.items():
        console.print(f"{name}: {path}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``simulate`` to the application."""
    app.command("simulate")(simulate_command)
