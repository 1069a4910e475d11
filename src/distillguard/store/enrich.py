"""Address and user-agent enrichment for one group of staged events.

Classification runs in Python over the group's *distinct* values only (vectorised by the classifiers); the
results are small tables `group_ips` / `group_uas` that the insert joins onto the events. Nothing is cached in
the store: a lookup table growing with every address ever seen would be joined on every group.
"""

from __future__ import annotations

import pyarrow as pa

from distillguard.engines.base import DatabaseAPI
from distillguard.enrich.network import NetworkClassifier
from distillguard.enrich.user_agent import classify_user_agents


def group_enrichment(db: DatabaseAPI, staged: str) -> dict[str, pa.Table]:
    """`group_ips` and `group_uas` for the distinct client IPs and user agents of `staged`, to be registered
    on the connection that inserts the events (computed on another one, ahead of it)."""
    ips = db.query(f"SELECT DISTINCT client_ip FROM {staged} WHERE client_ip IS NOT NULL")
    uas = db.query(f"SELECT DISTINCT user_agent FROM {staged} WHERE user_agent IS NOT NULL")
    return {
        "group_ips": NetworkClassifier.default().classify(ips.column("client_ip")),
        "group_uas": classify_user_agents(uas.column("user_agent")),
    }
