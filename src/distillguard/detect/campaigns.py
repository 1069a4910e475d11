"""Campaigns: flagged accounts joined by strong links, with what an analyst needs to act on them.

Leiden clusters are dense cells (a payment card, a proxy pool); one operation runs many cells, tied together
by shared rare templates and synchronised load balancing. So a campaign is a connected component of the
graph restricted to *flagged* accounts and links of at least `min_edge`: an unflagged account cannot bridge
two operations, and weak coincidences (two campaigns using a common wrapper) stay below the edge weight.
"""

from __future__ import annotations

import pyarrow as pa

from distillguard.engines.base import DatabaseAPI
from distillguard.linkage.graph import account_graph


def build_campaigns(db: DatabaseAPI, *, min_accounts: int = 3, min_edge: float = 0.5) -> None:
    """Write `campaigns` and set `account_detections.campaign_id` for flagged members of each campaign."""
    edges = db.query(f"""
        SELECT l.account_a, l.account_b FROM account_links l
        JOIN account_detections a ON a.account_id = l.account_a AND a.flagged
        JOIN account_detections b ON b.account_id = l.account_b AND b.flagged
        WHERE l.weight >= {min_edge}""")
    db.register("components", _components(edges))
    db.execute(f"""
        CREATE OR REPLACE TABLE campaigns AS
        WITH flagged AS (
          SELECT c.component AS cluster_id, count(*) AS accounts, avg(d.score) AS score
          FROM components c JOIN account_detections d USING (account_id)
          GROUP BY c.component HAVING count(*) >= {min_accounts}
        ), numbered AS (
          SELECT *, 'camp_' || lpad(row_number() OVER (ORDER BY accounts DESC, cluster_id)::VARCHAR, 4, '0')
                 AS campaign_id
          FROM flagged
        ), members AS (
          SELECT n.campaign_id, c.account_id FROM numbered n JOIN components c ON c.component = n.cluster_id
        ), traffic AS (
          SELECT m.campaign_id, count(*) AS requests, min(e.ts) AS first_seen, max(e.ts) AS last_seen,
                 list(DISTINCT e.model) AS models,
                 avg(CASE WHEN e.ip_class IN ('datacenter', 'cloud', 'vpn', 'tor') THEN 1.0 ELSE 0.0 END)
                   AS risky_address_share,
                 count(DISTINCT e.client_ip) AS addresses, count(DISTINCT e.ip_prefix) AS prefixes
          FROM members m JOIN events e USING (account_id) GROUP BY m.campaign_id
        ), links AS (
          SELECT m.campaign_id, list(DISTINCT s ORDER BY s) AS link_kinds
          FROM members m JOIN account_links l ON l.account_a = m.account_id, unnest(l.signals) AS t(s)
          GROUP BY m.campaign_id
        )
        SELECT n.campaign_id, n.cluster_id AS component, n.accounts, n.score, t.requests, t.first_seen, t.last_seen,
               t.models,
               t.risky_address_share, t.addresses, t.prefixes, coalesce(l.link_kinds, []) AS link_kinds
        FROM numbered n JOIN traffic t USING (campaign_id) LEFT JOIN links l USING (campaign_id)""")
    db.execute("""
        CREATE OR REPLACE TABLE campaign_members AS
        SELECT c.campaign_id, m.account_id FROM campaigns c JOIN components m USING (component)""")
    db.execute("""
        UPDATE account_detections d SET campaign_id = m.campaign_id
        FROM campaign_members m WHERE d.account_id = m.account_id""")
    db.unregister("components")


def _components(edges: pa.Table) -> pa.Table:
    """Connected component id per account appearing in `edges`."""
    names, graph = account_graph(edges)
    membership = graph.connected_components().membership if len(names) else []
    return pa.table({"account_id": pa.array(names, pa.string()), "component": pa.array(membership, pa.int64())})
