"""The ``evaluate`` command. ``register(app)`` adds it to the main command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from distillguard.evaluate.metrics import HEADLINE_RATES, DetectionsMissing, EvaluationResult, evaluate
from distillguard.evaluate.report import write_report

console = Console(stderr=True)
DEFAULT_DB = Path("distillguard.duckdb")


def evaluate_command(
    truth: Annotated[Path, typer.Option("--truth", help="Ground truth (truth.jsonl from `simulate`).")],
    detections: Annotated[
        Path | None, typer.Option("--detections", help="Directory holding accounts.csv (from `detect --out`).")
    ] = None,
    db: Annotated[Path, typer.Option("--db", help="DuckDB store with table account_detections.")] = DEFAULT_DB,
    json_out: Annotated[bool, typer.Option("--json", help="Print all metrics as one JSON object.")] = False,
    report: Annotated[Path | None, typer.Option("--report", help="Also write an HTML report here.")] = None,
) -> None:
    """Score detections against ground truth: recall, precision, false positives, campaign purity."""
    try:
        result = evaluate(truth, detections) if detections is not None else evaluate(truth, db=db)
    except DetectionsMissing as e:
        console.print(f"[bold red]error:[/] {e}", highlight=False)
        raise typer.Exit(1) from None
    if report is not None:
        write_report(result, report)
        console.print(f"report written to {report}", highlight=False)
    if json_out:
        sys.stdout.write(orjson.dumps(result.to_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print(result)


def _num(v: float | int | None) -> str:
    return "–" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


def _print(r: EvaluationResult) -> None:
    head = Table(title="evaluation", title_justify="left")
    head.add_column("metric")
    head.add_column("value", justify="right")
    for k in HEADLINE_RATES:
        head.add_row(k, _num(getattr(r, k)))
    head.add_row("campaigns_found", f"{r.campaigns_found} of {r.campaigns_total}")
    roles = Table(title="by role", title_justify="left")
    for col in ("role", "accounts", "flagged", "rate"):
        roles.add_column(col, justify="left" if col == "role" else "right")
    for x in r.by_role:
        roles.add_row(f"{x['role']} ({x['metric']})", str(x["accounts"]), str(x["flagged"]), _num(x["rate"]))
    out = Console()
    out.print(head)
    out.print(roles)


def register(app: typer.Typer) -> None:
    """Add ``evaluate`` to the application."""
    app.command("evaluate")(evaluate_command)
