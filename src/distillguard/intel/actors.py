"""Actors and attribution: which known actor runs each campaign, how sure we are, and why.

Actors come from two places: a registry file kept by the analysts (`load_registry`; format in docs/intel.md:
name, aliases, known infrastructure, clients, template fingerprints, sign-up patterns as e-mail domains and
keyed e-mail / payment hashes) and every partner import (the partner's Intrusion Set or Threat Actor name, or
"<partner> <campaign> operator" when the partner had not named one). A partner actor whose name is a registry
name or alias is that registry actor.

Confidence is a rule table over *independent* evidence, not a fitted probability (docs/intel.md):
families matched F (infrastructure needs `MIN_INFRA_VALUES` distinct addresses or prefixes; client, template
and identity one value each, client only corroborated) and P, the partners confirming (partners whose
indicators for that actor match the campaign), and S, the independent sources among them (each partner, and
our own registry): one partner's bundle that both names an actor and matches it is one source, not a
confirmation of itself.

    F empty                                          -> unknown (actor "unknown")
    template in F, |F| >= 2, P >= 1, S >= 2          -> high
    template in F, |F| >= 2; or P >= 1               -> moderate
    otherwise (one family, no partner)               -> low
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from distillguard.engines.base import DatabaseAPI
from distillguard.intel.model import Indicator
from distillguard.intel.partners import Sourced, match_intel, store_intel
from distillguard.templates.stage import SIGNATURE_PERM, SIGNATURE_SEED

MIN_INFRA_VALUES = 2
LEVELS = ("unknown", "low", "moderate", "high")
_TLS = re.compile(r"^(t|q)1[0-3][di]\w+_[0-9a-f]{12}_[0-9a-f]{12}$|^[0-9a-f]{32}$")  # JA4, or JA3 md5


@dataclass(frozen=True)
class Registry:
    """Actor indicators from the registry file, and alias -> canonical name."""

    rows: list[Sourced]
    aliases: dict[str, str]


def load_registry(path: Path | None) -> Registry:
    """The actor registry at `path` (a JSON list of actors, or {"actors": [...]}); empty without a path."""
    if path is None:
        return Registry([], {})
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    actors = data["actors"] if isinstance(data, dict) else data
    rows: list[Sourced] = []
    aliases: dict[str, str] = {}
    for a in actors:
        name = a["name"]
        aliases |= {alias: name for alias in a.get("aliases", [])}
        rows += [(name, None, ind) for ind in _actor_indicators(a)]
    return Registry(rows, aliases)


def _actor_indicators(a: dict[str, Any]) -> list[Indicator]:
    out = []
    for value in a.get("infrastructure", []):
        if "/" in value:
            out.append(Indicator("ip-prefix", value))
        else:
            out.append(Indicator(f"ipv{ipaddress.ip_address(value).version}-addr", value))
    for value in a.get("clients", []):
        out.append(Indicator("tls-fingerprint" if _TLS.match(value) else "user-agent", value))
    for fp in a.get("template_fingerprints", []):
        fp = fp if isinstance(fp, dict) else {"signature": fp}
        kind = fp.get("kind", "system")
        perm, seed = fp.get("num_perm", SIGNATURE_PERM), fp.get("seed", SIGNATURE_SEED)
        out.append(Indicator("template-fingerprint", fp["signature"], template_kind=kind, num_perm=perm, seed=seed))
    signup = a.get("signup", {})
    out += [Indicator("email-domain", d) for d in signup.get("email_domains", [])]
    for kind, key in (("email-hmac", "email_hmacs"), ("payment-hmac", "payment_hmacs")):
        out += [Indicator(kind, h, key_id=signup.get("key_id")) for h in signup.get(key, [])]
    return out


def attribute(
    db: DatabaseAPI, registry: Registry | None = None, partner_key: bytes | None = None
) -> list[dict[str, Any]]:
    """Match all held indicators, then write `campaign_attribution` (one row per campaign) and return it."""
    registry = registry or Registry([], {})
    if db.table_exists("intel_indicators"):
        db.execute("DELETE FROM intel_indicators WHERE source_type = 'registry'")
    store_intel(db, registry.rows, "registry", "registry")
    match_intel(db, partner_key)
    evidence = db.query("""
        SELECT campaign_id, actor, family, source, source_type, sum(values_matched)::BIGINT AS n,
               max(accounts) AS accounts, list(evidence ORDER BY evidence) AS evidence
        FROM campaign_evidence WHERE actor IS NOT NULL GROUP BY ALL""").to_pylist()
    campaigns = db.query("SELECT campaign_id FROM campaigns ORDER BY campaign_id").column(0).to_pylist()
    per: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in evidence:
        actor = registry.aliases.get(row["actor"], row["actor"])
        per.setdefault((row["campaign_id"], actor), []).append(row)
    rows = []
    for campaign_id in campaigns:
        candidates = sorted((_assess(actor, per[(c, actor)]) for c, actor in per if c == campaign_id), key=_rank)
        best = candidates[0] if candidates and candidates[0]["confidence"] != "unknown" else None
        row = {
            "campaign_id": campaign_id,
            "actor": best["actor"] if best else "unknown",
            "confidence": best["confidence"] if best else "unknown",
            "families": best["families"] if best else [],
            "partners": best["partners"] if best else [],
            "reasons": best["reasons"] if best else ["no held indicator matches this campaign strongly enough"],
            "runner_up": None,
        }
        if best and len(candidates) > 1:
            r = candidates[1]
            row["runner_up"] = f"{r['actor']} ({r['confidence']})"
        rows.append(row)
    _write(db, rows)
    return rows


def _rank(a: dict[str, Any]) -> tuple:
    """Best first: confidence, then independent families, partners, matched values; ties by name."""
    return (-LEVELS.index(a["confidence"]), -len(a["families"]), -len(a["partners"]), -a["n"], a["actor"])


def _assess(actor: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The rule table for one (campaign, actor)."""
    per_family: dict[str, int] = {}
    for r in rows:
        per_family[r["family"]] = per_family.get(r["family"], 0) + r["n"]
    families = sorted(f for f, n in per_family.items() if n >= (MIN_INFRA_VALUES if f == "infrastructure" else 1))
    partners = sorted({r["source"] for r in rows if r["source_type"] == "partner"})
    sources = {r["source"] for r in rows}
    if not families:
        level = "unknown"
    elif "template" in families and len(families) >= 2 and partners and len(sources) >= 2:
        level = "high"
    elif ("template" in families and len(families) >= 2) or partners:
        level = "moderate"
    else:
        level = "low"
    reasons = [e for r in rows for e in r["evidence"]]
    reasons.insert(
        0,
        f"{level}: families {', '.join(families) or 'none'}; partners confirming: {len(partners)}; "
        f"independent sources: {len(sources)}",
    )
    return {
        "actor": actor,
        "confidence": level,
        "families": families,
        "partners": partners,
        "n": sum(per_family.values()),
        "reasons": reasons,
    }


def _write(db: DatabaseAPI, rows: list[dict[str, Any]]) -> None:
    schema = pa.schema(
        [
            ("campaign_id", pa.string()),
            ("actor", pa.string()),
            ("confidence", pa.string()),
            ("families", pa.list_(pa.string())),
            ("partners", pa.list_(pa.string())),
            ("reasons", pa.list_(pa.string())),
            ("runner_up", pa.string()),
        ]
    )
    db.register("_attribution", pa.Table.from_pylist(rows, schema=schema))
    db.execute("CREATE OR REPLACE TABLE campaign_attribution AS SELECT * FROM _attribution")
    db.unregister("_attribution")
