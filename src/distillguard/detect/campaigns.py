"""Campaigns: clusters holding enough flagged accounts, with what an analyst needs to act on them."""

from __future__ import annotations

from distillguard.engines.base import DatabaseAPI


def build_campaigns(db: DatabaseAPI, *, min_accounts: int = 3) -> None:
    """Write `campaigns` and set `account_detections.campaign_id` for flagged members of each campaign."""
    db.execute(f"""
        CREATE OR REPLACE TABLE campaigns AS
        WITH flagged AS (
          SELECT cluster_id, count(*) AS accounts, avg(score) AS score
          FROM account_detections WHERE flagged AND cluster_id IS NOT NULL
          GROUP BY cluster_id HAVING count(*) >= {min_accounts}
        ), numbered AS (
          SELECT *, 'camp_' || lpad(row_number() OVER (ORDER BY accounts DESC, cluster_id)::VARCHAR, 4, '0')
                 AS campaign_id
          FROM flagged
        ), members AS (
          SELECT n.campaign_id, d.account_id FROM numbered n
          JOIN account_detections d ON d.cluster_id = n.cluster_id AND d.flagged
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
        SELECT n.campaign_id, n.cluster_id, n.accounts, n.score, t.requests, t.first_seen, t.last_seen, t.models,
               t.risky_address_share, t.addresses, t.prefixes, coalesce(l.link_kinds, []) AS link_kinds
        FROM numbered n JOIN traffic t USING (campaign_id) LEFT JOIN links l USING (campaign_id)""")
    db.execute("""
        UPDATE account_detections d SET campaign_id = c.campaign_id
        FROM campaigns c WHERE d.cluster_id = c.cluster_id AND d.flagged""")
