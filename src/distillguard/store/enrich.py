"""Address and user-agent enrichment for one group of staged events.

Classification runs in Python over the group's *distinct* values only (vectorised by the classifiers); the
results are registered as small tables `group_ips` / `group_uas` that the insert joins onto the events. Nothing
is cached in the store: a lookup table growing with every address ever seen would be joined on every group.
"""

from __future__ import annotations

from distillguard.engines.base import DatabaseAPI
from distillguard.enrich.network import NetworkClassifier
from distillguard.enrich.user_agent import classify_user_agents


def register_group_enrichment(db: DatabaseAPI, staged: str) -> None:
    """Register `group_ips` and `group_uas` for the distinct client IPs and user agents of `staged`."""
    ips = db.query(f"SELECT DISTINCT client_ip FROM {staged} WHERE client_ip IS NOT NULL")
    db.register("group_ips", NetworkClassifier.default().classify(ips.column("client_ip")))
    uas = db.query(f"SELECT DISTINCT user_agent FROM {staged} WHERE user_agent IS NOT NULL")
    db.register("group_uas", classify_user_agents(uas.column("user_agent")))


def unregister_group_enrichment(db: DatabaseAPI) -> None:
    db.unregister("group_ips")
    db.unregister("group_uas")
