"""A self-contained HTML report of an evaluation: headline metrics, a confusion table per role, plots.

Why self-contained: reports are attached to tickets and opened offline, so plotly.js is inlined once in the
file (about 4.6 MB) instead of being fetched from a CDN when the page is viewed.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from distillguard.evaluate.metrics import HEADLINE_RATES, EvaluationResult

_CSS = """body{font-family:system-ui,sans-serif;margin:2rem;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}h2{margin-top:2rem}
.note{color:#555;font-size:.9rem}"""


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3f}"
    return html.escape(str(v))


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return '<p class="note">none</p>'
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _bar(title: str, x: list[str], series: dict[str, list[float | None]], yaxis: str) -> go.Figure:
    fig = go.Figure([go.Bar(name=name, x=x, y=[v if v is not None else 0 for v in ys]) for name, ys in series.items()])
    fig.update_layout(title=title, barmode="group", yaxis_title=yaxis, height=380, margin={"t": 50, "b": 120})
    return fig


def _figures(r: EvaluationResult) -> list[go.Figure]:
    figs = [
        _bar(
            "Flag rate by role (recall for campaign accounts, false-positive rate otherwise)",
            [x["role"] for x in r.by_role],
            {"flagged share": [x["rate"] for x in r.by_role]},
            "share of accounts",
        ),
    ]
    if r.by_campaign:
        names = [x["campaign_id"] for x in r.by_campaign]
        figs.append(
            _bar(
                "Per campaign",
                names,
                {
                    "account recall": [x["recall"] for x in r.by_campaign],
                    "request recall": [x["request_recall"] for x in r.by_campaign],
                    "purity": [x["purity"] for x in r.by_campaign],
                    "completeness": [x["completeness"] for x in r.by_campaign],
                },
                "value",
            )
        )
    if r.by_knob:
        figs.append(
            _bar(
                "Recall by evasion knob",
                [x["knob"] for x in r.by_knob],
                {
                    "account recall": [x["recall"] for x in r.by_knob],
                    "request recall": [x["request_recall"] for x in r.by_knob],
                },
                "recall",
            )
        )
    if r.score_quantiles:
        fig = go.Figure()
        for q in r.score_quantiles:
            p05, p25, p50, p75, p95 = q["q"]
            fig.add_trace(go.Box(name=q["role"], q1=[p25], median=[p50], q3=[p75], lowerfence=[p05], upperfence=[p95]))
        fig.update_layout(
            title="Detector score by role (5th-95th percentile whiskers)",
            height=420,
            showlegend=False,
            margin={"b": 140},
        )
        figs.append(fig)
    if r.time_to_detect_available and r.by_campaign:
        figs.append(
            _bar(
                "Time to detect (hours)",
                [x["campaign_id"] for x in r.by_campaign],
                {
                    "campaign start to first flag": [x["time_to_first_flag_h"] for x in r.by_campaign],
                    "median per-account delay": [x["median_delay_h"] for x in r.by_campaign],
                },
                "hours",
            )
        )
    return figs


def write_report(result: EvaluationResult, path: Path) -> Path:
    """Write the HTML report to `path` (a file name) and return it."""
    path = Path(path)
    head = [{"metric": k, "value": getattr(result, k)} for k in (*HEADLINE_RATES, "campaigns_found", "campaigns_total")]
    plots = "".join(fig.to_html(full_html=False, include_plotlyjs=(i == 0)) for i, fig in enumerate(_figures(result)))
    body = f"""<h1>distillguard evaluation</h1>
<p class="note">Positives are accounts whose truth role is "campaign"; every other role is a negative.
Definitions: docs/simulator.md, section "Evaluation".</p>
{_table(head, ["metric", "value"])}
<h2>Confusion table per role</h2>
{
        _table(
            result.by_role,
            ["role", "accounts", "flagged", "not_flagged", "metric", "rate", "requests", "flagged_requests"],
        )
    }
<h2>Campaigns</h2>
{
        _table(
            result.by_campaign,
            [
                "campaign_id",
                "actor",
                "accounts",
                "flagged",
                "recall",
                "request_recall",
                "best_cluster",
                "cluster_size",
                "overlap",
                "purity",
                "completeness",
                "found",
                "time_to_first_flag_h",
                "median_delay_h",
            ],
        )
    }
<h2>Evasion knobs</h2>
{_table(result.by_knob, ["knob", "accounts", "flagged", "recall", "request_recall"])}
<h2>Found clusters</h2>
{_table(result.clusters[:50], ["cluster", "size", "majority", "majority_accounts", "purity"])}
<h2>Plots</h2>
{plots}"""
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>distillguard evaluation</title>"
        f"<style>{_CSS}</style></head><body>{body}</body></html>",
        encoding="utf-8",
    )
    return path
