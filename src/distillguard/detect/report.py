"""report.html: a self-contained page per detection run (plotly's JS is inlined once; no network needed)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import igraph as ig
import plotly.graph_objects as go
import plotly.io as pio

from distillguard.engines.base import DatabaseAPI, sql_literal

MAX_GRAPH_NODES = 300


def write_report(db: DatabaseAPI, campaigns: list[dict[str, Any]], path: Path) -> None:
    figures = [_timeline(db), _capabilities(campaigns)]
    sections = []
    include = "inline"
    for fig in figures:
        if fig is not None:
            sections.append(pio.to_html(fig, full_html=False, include_plotlyjs=include))
            include = False
    for c in campaigns:
        graph = _campaign_graph(db, c["campaign_id"])
        sections.append(_campaign_section(c, pio.to_html(graph, full_html=False, include_plotlyjs=include)))
        include = False
    summary = db.query("""SELECT count(*) AS accounts, count(*) FILTER (WHERE flagged) AS flagged,
                                 count(DISTINCT campaign_id) AS campaigns FROM account_detections""").to_pylist()[0]
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>distillguard report</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}} h2{{margin-top:2em}}</style>
</head><body><h1>distillguard detection report</h1>
<p>{summary["accounts"]:,} accounts scored, {summary["flagged"]:,} flagged, {summary["campaigns"]:,} campaigns.</p>
{"".join(sections) if sections else "<p>No campaign found.</p>"}
</body></html>"""
    path.write_text(page, encoding="utf-8")


def _timeline(db: DatabaseAPI) -> go.Figure | None:
    rows = db.query("""
        SELECT d.campaign_id, date_trunc('hour', e.ts) AS hour, count(*) AS requests
        FROM events e JOIN account_detections d USING (account_id)
        WHERE d.campaign_id IS NOT NULL GROUP BY ALL ORDER BY hour""").to_pylist()
    if not rows:
        return None
    fig = go.Figure()
    for cid in sorted({r["campaign_id"] for r in rows}):
        pts = [r for r in rows if r["campaign_id"] == cid]
        fig.add_trace(go.Scatter(x=[p["hour"] for p in pts], y=[p["requests"] for p in pts], name=cid, mode="lines"))
    fig.update_layout(title="Campaign timeline (requests per hour)", height=350)
    return fig


def _capabilities(campaigns: list[dict[str, Any]]) -> go.Figure | None:
    if not any(c["capabilities"] for c in campaigns):
        return None
    fig = go.Figure()
    capabilities = sorted({cap["capability"] for c in campaigns for cap in c["capabilities"]})
    for cap in capabilities:
        fig.add_trace(
            go.Bar(
                name=cap,
                x=[c["campaign_id"] for c in campaigns],
                y=[next((x["requests"] for x in c["capabilities"] if x["capability"] == cap), 0) for c in campaigns],
            )
        )
    fig.update_layout(barmode="stack", title="Capability mix per campaign (top capabilities)", height=350)
    return fig


def _campaign_graph(db: DatabaseAPI, campaign_id: str) -> go.Figure:
    cid = sql_literal(campaign_id)
    edges = db.query(f"""
        WITH m AS (SELECT account_id FROM account_detections WHERE campaign_id = {cid}
                   ORDER BY score DESC LIMIT {MAX_GRAPH_NODES})
        SELECT account_a, account_b, weight FROM account_links
        WHERE account_a IN (SELECT account_id FROM m) AND account_b IN (SELECT account_id FROM m)""").to_pylist()
    names = sorted({e["account_a"] for e in edges} | {e["account_b"] for e in edges})
    index = {n: i for i, n in enumerate(names)}
    graph = ig.Graph(n=len(names), edges=[(index[e["account_a"]], index[e["account_b"]]) for e in edges])
    layout = graph.layout_fruchterman_reingold(seed=None) if names else []
    xs, ys = [], []
    for e in edges:
        (x0, y0), (x1, y1) = layout[index[e["account_a"]]], layout[index[e["account_b"]]]
        xs += [x0, x1, None]
        ys += [y0, y1, None]
    fig = go.Figure(
        [
            go.Scatter(x=xs, y=ys, mode="lines", line={"width": 0.5, "color": "#999"}, hoverinfo="none"),
            go.Scatter(
                x=[p[0] for p in layout],
                y=[p[1] for p in layout],
                mode="markers",
                text=names,
                marker={"size": 7},
                hoverinfo="text",
            ),
        ]
    )
    fig.update_layout(
        title=f"{campaign_id}: account graph ({len(names)} accounts shown)",
        showlegend=False,
        height=400,
        xaxis={"visible": False},
        yaxis={"visible": False},
    )
    return fig


def _campaign_section(c: dict[str, Any], graph_html: str) -> str:
    reasons = "".join(
        f"<tr><td>{html.escape(r['signal'])}</td><td>{r['accounts']}</td><td>{r['mean_value']}</td>"
        f"<td>{html.escape(str(r['example'] or ''))}</td><td>{html.escape(', '.join(r['evidence'] or []))}</td></tr>"
        for r in c["reasons"]
    )
    templates = "".join(
        f"<li>{html.escape(str(t['template'])[:300])} ({t['requests']:,} requests)</li>" for t in c["top_templates"]
    )
    return f"""<h2>{html.escape(c["campaign_id"])}: {c["accounts"]:,} accounts, {c["requests"]:,} requests</h2>
<p>score {c["score"]}, {html.escape(str(c["first_seen"]))} → {html.escape(str(c["last_seen"]))};
models {html.escape(", ".join(c["models"] or []))}; links: {html.escape(", ".join(c["link_kinds"] or []))};
{c["risky_address_share"]:.0%} of requests from datacenter/cloud/VPN/Tor addresses
({c["addresses"]:,} addresses in {c["prefixes"]:,} prefixes).</p>
{_cells_line(c)}
{f"<p>Top templates (masked):</p><ul>{templates}</ul>" if templates else ""}
<table><tr><th>signal</th><th>accounts</th><th>mean</th><th>example</th><th>evidence requests</th></tr>{reasons}</table>
{graph_html}"""


def _cells_line(c: dict[str, Any]) -> str:
    """Why several cells are one campaign (empty for a single cell)."""
    if c["cells"] <= 1:
        return ""
    return (
        f"<p>{c['cells']:,} cells joined: capability profiles alike (cosine ≥ {c['cell_similarity']}) and tied by "
        f"{html.escape('; '.join(c['joined_by']))}.</p>"
    )
