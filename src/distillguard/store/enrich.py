"""Address and user-agent enrichment, computed once per distinct value and kept in `ip_info` / `ua_info`.

Classification runs in Python over the *distinct* values not seen before (a few thousand per batch at most),
vectorised by the classifiers; the join back onto events is SQL.
"""

from __future__ import annotations

from distillguard.engines.base import DatabaseAPI
from distillguard.enrich.network import NetworkClassifier
from distillguard.enrich.user_agent import classify_user_agents


def enrich_new_addresses(db: DatabaseAPI, staged: str) -> None:
    """Add rows to `ip_info` and `ua_info` for client IPs and user agents of `staged` not classified yet."""
    ips = db.query(f"""
        SELECT DISTINCT client_ip FROM {staged} s
        WHERE client_ip IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ip_info i WHERE i.client_ip = s.client_ip)""")
    if ips.num_rows:
        db.register("new_ips", NetworkClassifier.default().classify(ips.column("client_ip")))
        db.execute("INSERT INTO ip_info BY NAME SELECT * FROM new_ips")
        db.unregister("new_ips")
    uas = db.query(f"""
        SELECT DISTINCT user_agent FROM {staged} s
        WHERE user_agent IS NOT NULL AND NOT EXISTS (SELECT 1 FROM ua_info u WHERE u.user_agent = s.user_agent)""")
    if uas.num_rows:
        db.register("new_uas", classify_user_agents(uas.column("user_agent")))
        db.execute("INSERT INTO ua_info BY NAME SELECT * FROM new_uas")
        db.unregister("new_uas")
