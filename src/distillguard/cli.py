"""The `distillguard` command line (DESIGN §3.4)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import duckdb
import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.formats.registry import FORMAT_NAMES
from distillguard.store.ingest import IngestSummary, expand_paths, ingest
from distillguard.store.stats import store_stats

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False, help=__doc__)
console = Console(stderr=True)

DEFAULT_DB = Path("distillguard.duckdb")
DbOption = Annotated[Path, typer.Option("--db", help="DuckDB store file.")]


def fail(message: str) -> NoReturn:
    """Exit non-zero with a one-line error (plain text: rich would wrap it at the terminal width)."""
    sys.stderr.write("error: " + " ".join(message.split()) + "\n")
    raise typer.Exit(1)


def open_store(db: Path, *, read_only: bool = False) -> DuckDBAPI:
    """The store at `db`, or a one-line error when it is not a DuckDB file (or is locked by another process)."""
    try:
        return DuckDBAPI(db, read_only=read_only)
    except duckdb.Error as e:
        fail(f"cannot open store {db}: {str(e).splitlines()[0]}")


@app.command("ingest")
def ingest_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Log files or directories (plain, gzip or zstd).")],
    db: DbOption = DEFAULT_DB,
    accounts: Annotated[list[Path] | None, typer.Option("--accounts", help="Accounts file(s) (DESIGN §3.2).")] = None,
    fmt: Annotated[str, typer.Option("--format", help=f"One of: {', '.join(FORMAT_NAMES)}.")] = "auto",
    max_line_bytes: Annotated[int, typer.Option(help="Longer lines are quarantined unread.")] = 16 << 20,
    json_out: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
) -> None:
    """Read logs into the store; bad lines go to the quarantine table with their reason."""
    if fmt not in FORMAT_NAMES:
        fail(f"unknown format {fmt!r}; expected one of {', '.join(FORMAT_NAMES)}")
    try:
        files = expand_paths([*paths, *(accounts or [])])
    except FileNotFoundError as e:
        fail(str(e))
    summary = _run_ingest(db, paths, accounts or [], fmt, max_line_bytes, sum(f.stat().st_size for f in files))
    if json_out:
        sys.stdout.write(orjson.dumps(summary.to_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print_summary(summary)
    if summary.nothing_read:
        fail("nothing could be read: no line became an event or an account (see the quarantine reasons above)")


def _run_ingest(
    db: Path, paths: list[Path], accounts: list[Path], fmt: str, max_line_bytes: int, total_bytes: int
) -> IngestSummary:
    columns = (
        TextColumn("[bold]ingest"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=console, transient=True) as bar, open_store(db) as store:
        task = bar.add_task("", total=total_bytes or None)

        def progress(path: Path, n: int) -> None:
            bar.update(task, advance=n, description=path.name)

        try:
            return ingest(store, paths, fmt=fmt, accounts=accounts, max_line_bytes=max_line_bytes, progress=progress)
        except OSError as e:
            fail(f"cannot read input: {e}")


def _print_summary(s: IngestSummary) -> None:
    table = Table(title=f"ingest run {s.run_id}", title_justify="left")
    for col in ("file", "format", "lines", "added", "dups", "bad", "accounts", "note"):
        table.add_column(col, justify="right" if col not in ("file", "format", "note") else "left")
    for f in s.files:
        table.add_row(
            Path(f.path).name,
            f.format,
            f"{f.lines_read:,}",
            f"{f.events_added:,}",
            f"{f.duplicates_skipped:,}",
            f"{f.quarantined:,}",
            f"{f.accounts_upserted:,}",
            f.note or "",
        )
    console.print(table)
    if s.quarantine_reasons:
        reasons = ", ".join(f"{k} ×{v:,}" for k, v in s.quarantine_reasons.most_common())
        console.print(f"quarantined: {reasons}  (see `distillguard stats`)")


@app.command("stats")
def stats_cmd(
    db: DbOption = DEFAULT_DB,
    json_out: Annotated[bool, typer.Option("--json", help="Print as one JSON object.")] = False,
) -> None:
    """Counts per table, formats seen and quarantine reasons: what went in."""
    if not db.exists():
        fail(f"no store at {db}; run `distillguard ingest` first")
    with open_store(db, read_only=True) as store:
        try:
            stats = store_stats(store)
        except LookupError as e:
            fail(f"{db}: {e}")
    if json_out:
        sys.stdout.write(orjson.dumps(stats, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    out = Console()
    t = Table(title="tables", title_justify="left")
    t.add_column("table")
    t.add_column("rows", justify="right")
    for name, n in stats["tables"].items():
        t.add_row(name, f"{n:,}")
    out.print(t)
    span = stats["events_span"]
    out.print(f"events from {span['first']} to {span['last']}, {span['accounts']:,} accounts")
    for title, key in (
        ("formats", "formats"),
        ("quarantine reasons", "quarantine_reasons"),
        ("address classes", "ip_classes"),
    ):
        if stats[key]:
            t = Table(title=title, title_justify="left")
            for col in stats[key][0]:
                t.add_column(col)
            for row in stats[key]:
                t.add_row(*(f"{v:,}" if isinstance(v, int) else str(v)[:100] for v in row.values()))
            out.print(t)


@app.command("detect")
def detect_cmd(
    db: DbOption = DEFAULT_DB,
    out: Annotated[Path, typer.Option("--out", help="Directory for accounts.csv, campaigns.json, report.html.")] = Path(
        "detections"
    ),
) -> None:
    """Score every account, find campaigns, recommend actions, and write the reports."""
    if not db.exists():
        fail(f"no store at {db}; run `distillguard ingest` first")
    files = _run_detect(db, out)
    with open_store(db, read_only=True) as store:
        summary = store.query(
            "SELECT count(*) AS accounts, count(*) FILTER (WHERE flagged) AS flagged, "
            "count(DISTINCT campaign_id) AS campaigns FROM account_detections"
        ).to_pylist()[0]
    console.print(
        f"{summary['accounts']:,} accounts scored, {summary['flagged']:,} flagged, "
        f"{summary['campaigns']:,} campaigns → {', '.join(str(p) for p in files.values())}"
    )


def _run_detect(db: Path, out: Path) -> dict[str, Path]:
    from rich.progress import SpinnerColumn, TimeElapsedColumn

    from distillguard.detect.outputs import write_outputs
    from distillguard.detect.pipeline import detect

    with (
        Progress(
            SpinnerColumn(),
            TextColumn("[bold]detect[/] {task.description}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar,
        DuckDBAPI(db) as store,
    ):
        task = bar.add_task("", total=None)
        detect(store, on_step=lambda name: bar.update(task, description=name))
        bar.update(task, description="writing reports")
        return write_outputs(store, out)


@app.command("demo")
def demo_cmd(
    out: Annotated[Path, typer.Option("--out", help="Working directory for the demo.")] = Path("distillguard-demo"),
    scale: Annotated[float, typer.Option(help="Scenario size (1.0 = article scale).")] = 0.004,
    seed: Annotated[int, typer.Option(help="Simulation seed (held out from training).")] = 7,
) -> None:
    """Simulate a month of traffic with campaigns and hard negatives, ingest it, detect, and score the result."""
    from distillguard.evaluate import evaluate, write_report
    from distillguard.simulate import simulate

    sim, db = out / "traffic", out / "distillguard.duckdb"
    for f in (db, Path(str(db) + ".wal")):
        f.unlink(missing_ok=True)
    console.print(f"[bold]1/4 simulate[/] standard scenario, scale {scale}, seed {seed} → {sim}")
    summary = simulate("standard", scale, seed, sim)
    console.print(f"    {summary.requests:,} requests from {summary.accounts:,} accounts (truth in truth.jsonl)")
    console.print(f"[bold]2/4 ingest[/] into {db}")
    logs = Path(summary.files["logs"])
    accounts = Path(summary.files["accounts"])
    _print_summary(_run_ingest(db, [logs], [accounts], "auto", 16 << 20, logs.stat().st_size))
    console.print(f"[bold]3/4 detect[/] → {out / 'detections'}")
    files = _run_detect(db, out / "detections")
    console.print("[bold]4/4 evaluate[/] against the simulator's ground truth")
    result = evaluate(Path(summary.files["truth"]), out / "detections")
    write_report(result, out / "evaluation.html")
    table = Table(title="detection quality", title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("account_recall", "account_precision", "benign_fpr", "request_recall", "campaign_purity"):
        value = getattr(result, key)
        table.add_row(key, "—" if value is None else f"{value:.4f}")
    table.add_row("campaigns_found", f"{result.campaigns_found} of {result.campaigns_total}")
    Console().print(table)
    console.print(f"reports: {files['report']}, {files['campaigns']}, {files['accounts']}, {out / 'evaluation.html'}")


def _register_commands() -> None:
    """Commands that live with their stage."""
    from distillguard.evaluate.commands import register as register_evaluate
    from distillguard.gateway.commands import register as register_gateway
    from distillguard.intel.commands import register as register_intel
    from distillguard.simulate.commands import register as register_simulate

    register_simulate(app)
    register_evaluate(app)
    register_intel(app)
    register_gateway(app)


_register_commands()
