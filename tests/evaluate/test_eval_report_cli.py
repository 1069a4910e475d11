"""The HTML report and the `evaluate` command."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import typer
from typer.testing import CliRunner

from distillguard.evaluate import evaluate, write_report
from distillguard.evaluate.commands import register

from .test_eval_metrics import DETECTIONS, TRUTH, write_detections, write_truth


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")  # a second command keeps typer from collapsing the app into one command
    def noop() -> None: ...

    return app


def test_report_is_self_contained(tmp_path: Path) -> None:
    r = evaluate(write_truth(tmp_path / "t.jsonl", TRUTH), write_detections(tmp_path / "d", DETECTIONS))
    html = write_report(r, tmp_path / "report.html").read_text()
    assert "Confusion table per role" in html
    assert "hard_negative:university_nat" in html
    assert html.count("Plotly.newPlot") >= 4  # roles, campaigns, knobs, scores (+ time to detect)
    assert not re.search(r"<script[^>]*\bsrc=", html)  # nothing is fetched when the page is viewed
    assert len(html) > 1_000_000  # plotly.js is inlined


def test_cli_json_and_report(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "t.jsonl", TRUTH)
    det = write_detections(tmp_path / "d", DETECTIONS)
    report = tmp_path / "r.html"
    res = CliRunner().invoke(
        _app(), ["evaluate", "--truth", str(truth), "--detections", str(det), "--json", "--report", str(report)]
    )
    assert res.exit_code == 0, res.output
    out = orjson.loads(res.stdout[res.stdout.index("{") :])
    assert out["account_recall"] == 0.6 and out["campaigns_found"] == 2
    assert report.is_file()


def test_cli_missing_table_is_one_line_error(tmp_path: Path) -> None:
    truth = write_truth(tmp_path / "t.jsonl", TRUTH)
    res = CliRunner().invoke(_app(), ["evaluate", "--truth", str(truth), "--db", str(tmp_path / "none.duckdb")])
    assert res.exit_code == 1
    assert "database not found" in res.output and "Traceback" not in res.output
