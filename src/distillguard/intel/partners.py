"""Partners' indicators in, matched against our own traffic, recorded as evidence on our campaigns.

Tables:
- `intel_indicators`: every indicator we hold from outside, one row per (source, actor, kind, value): partner
  imports (`source_type` 'partner', source = the partner name given on import, never read from the file) and
  actor-registry entries (`source_type` 'registry'). Re-importing a partner's campaign replaces its rows.
- `intel_matches(source, source_type, actor, kind, family, value, account_id, requests, campaign_id)`: each of
  our accounts an indicator matches; `campaign_id` is NULL for accounts in no campaign (a lead, not evidence).
- `campaign_evidence`: per campaign, source, actor and kind: how many values matched on how many accounts,
  with a sentence such as "confirmed by partner lab-b: 12 ipv4-addr values on 30 accounts".

Matching: addresses, user agents and TLS fingerprints by equality on `events`; network prefixes by containment
of our addresses (any length, IPv4 or IPv6); e-mail domains on `accounts`; keyed hashes by re-hashing our own
e-mail and payment fingerprints with our copy of the partner key (only indicators made with that key: `key_id`
must agree); template fingerprints by MinHash equal-slot share against `templates.signature` (same permutations
and seed only) at `TEMPLATE_MATCH` or above. User agents, TLS fingerprints and e-mail domains are public or
shared values: they count only on an account that a stronger indicator of the same source and actor also
matches.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from distillguard.engines.base import DatabaseAPI, sql_literal
from distillguard.enrich.network import parse_addresses
from distillguard.intel import misp, stix
from distillguard.intel.indicators import CLIENT_ASN
from distillguard.intel.model import FAMILY, SUPPORTING, Indicator, key_id, keyed_hash
from distillguard.templates.stage import SIGNATURE_PERM, SIGNATURE_SEED

TEMPLATE_MATCH = 0.9  # estimated Jaccard of masked word bigrams; docs/intel.md argues the value

_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("source_type", pa.string()),
        ("actor", pa.string()),
        ("source_campaign", pa.string()),
        ("kind", pa.string()),
        ("value", pa.string()),
        ("template_kind", pa.string()),
        ("num_perm", pa.int32()),
        ("seed", pa.int64()),
        ("key_id", pa.string()),
        ("accounts", pa.int64()),
        ("requests", pa.int64()),
        ("first_seen", pa.timestamp("us")),
        ("last_seen", pa.timestamp("us")),
        ("added_at", pa.timestamp("us")),
    ]
)
Sourced = tuple[str | None, str | None, Indicator]  # (actor, source's campaign, indicator)


def read_intel(path: Path) -> list[Sourced]:
    """Indicators from a STIX 2.1 bundle or a MISP feed event (or a JSON list of feed events)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict) and data.get("type") == "bundle":
        return stix.parse_bundle(json.dumps(data))
    events = data if isinstance(data, list) else [data]
    if all(isinstance(e, dict) and "Event" in e for e in events):
        return [row for e in events for row in misp.parse_feed(e)]
    raise ValueError(f"{path}: neither a STIX 2.1 bundle nor a MISP feed event")


def store_intel(db: DatabaseAPI, rows: list[Sourced], source: str, source_type: str) -> int:
    """Add `rows` under `source`, replacing what that source said earlier about the same campaigns/actors."""
    _ensure_table(db)
    now = datetime.now(UTC).replace(tzinfo=None)
    columns: dict[str, list] = {f.name: [] for f in _SCHEMA}
    for actor, campaign, ind in rows:
        record = {"source": source, "source_type": source_type, "actor": actor, "source_campaign": campaign}
        record |= {k: getattr(ind, k) for k in _SCHEMA.names if hasattr(ind, k)} | {"added_at": now}
        for name in columns:
            columns[name].append(record.get(name))
    table = pa.table(columns, schema=_SCHEMA)
    db.register("_intel_new", table)
    with db.transaction():
        db.execute(f"""
            DELETE FROM intel_indicators WHERE source = {sql_literal(source)} AND EXISTS (
              SELECT 1 FROM _intel_new n WHERE n.actor IS NOT DISTINCT FROM intel_indicators.actor
                AND n.source_campaign IS NOT DISTINCT FROM intel_indicators.source_campaign)""")
        db.execute("INSERT INTO intel_indicators SELECT DISTINCT * FROM _intel_new")
    db.unregister("_intel_new")
    return table.num_rows


def _ensure_table(db: DatabaseAPI) -> None:
    if not db.table_exists("intel_indicators"):
        db.register("_intel_empty", _SCHEMA.empty_table())
        db.execute("CREATE TABLE intel_indicators AS SELECT * FROM _intel_empty")
        db.unregister("_intel_empty")


def match_intel(db: DatabaseAPI, partner_key: bytes | None = None, threshold: float = TEMPLATE_MATCH) -> None:
    """Rewrite `intel_matches` and `campaign_evidence` from every indicator in `intel_indicators`."""
    _ensure_table(db)
    for name in ("campaign_members", "templates", "request_templates"):
        if not db.table_exists(name):
            raise LookupError(f"no {name} table: run `distillguard detect` first")
    db.register("_intel_keyed", _keyed(db, partner_key))
    db.register("_intel_tpl", _template_pairs(db, threshold))
    db.register("_intel_prefix", _prefix_hits(db))
    event_joins = [("('ipv4-addr', 'ipv6-addr')", "e.client_ip"), ("('autonomous-system')", CLIENT_ASN.format(t="e"))]
    event_joins += [("('user-agent')", "e.user_agent"), ("('tls-fingerprint')", "e.tls_fingerprint")]
    parts = [
        f"""SELECT i.source, i.source_type, i.actor, i.kind, i.value, e.account_id, count(*) AS requests
            FROM intel_indicators i JOIN events e ON {value} = i.value WHERE i.kind IN {kinds} GROUP BY ALL"""
        for kinds, value in event_joins
    ]
    parts.append("""SELECT i.source, i.source_type, i.actor, i.kind, i.value, e.account_id, count(*)
        FROM intel_indicators i JOIN _intel_prefix p ON p.value = i.value JOIN events e ON e.client_ip = p.client_ip
        WHERE i.kind = 'ip-prefix' GROUP BY ALL""")
    parts.append("""SELECT i.source, i.source_type, i.actor, i.kind, i.value, a.account_id, 0
        FROM intel_indicators i JOIN accounts a ON a.email_domain = i.value WHERE i.kind = 'email-domain'""")
    parts.append("""SELECT i.source, i.source_type, i.actor, i.kind, i.value, k.account_id, 0
        FROM intel_indicators i JOIN _intel_keyed k ON k.kind = i.kind AND k.value = i.value AND k.key_id = i.key_id""")
    for kind, col in (("system", "system_template"), ("user", "user_template")):
        parts.append(f"""SELECT i.source, i.source_type, i.actor, i.kind, i.value, r.account_id, count(*)
            FROM intel_indicators i JOIN _intel_tpl t ON t.value = i.value
            JOIN request_templates r ON r.{col} = t.template_id
            WHERE i.kind = 'template-fingerprint' AND coalesce(i.template_kind, 'system') = '{kind}'
              AND i.num_perm = {SIGNATURE_PERM} AND i.seed = {SIGNATURE_SEED}
            GROUP BY ALL""")
    family = "CASE " + " ".join(f"WHEN h.kind = '{k}' THEN '{f}'" for k, f in FAMILY.items()) + " END"
    supporting = "(" + ", ".join(f"'{k}'" for k in sorted(SUPPORTING)) + ")"
    db.execute(f"""
        CREATE OR REPLACE TABLE intel_matches AS
        WITH hits AS ({" UNION ALL ".join(parts)}),
        strong AS (SELECT DISTINCT source, actor, account_id FROM hits WHERE kind NOT IN {supporting})
        SELECT h.source, h.source_type, h.actor, h.kind, {family} AS family, h.value, h.account_id,
               sum(h.requests)::BIGINT AS requests, any_value(m.campaign_id) AS campaign_id
        FROM hits h LEFT JOIN campaign_members m USING (account_id)
        WHERE h.kind NOT IN {supporting} OR EXISTS (
          SELECT 1 FROM strong s
          WHERE s.source = h.source AND s.actor IS NOT DISTINCT FROM h.actor AND s.account_id = h.account_id)
        GROUP BY ALL""")
    db.execute("""
        CREATE OR REPLACE TABLE campaign_evidence AS
        SELECT campaign_id, source, source_type, actor, family, kind, count(DISTINCT value) AS values_matched,
               count(DISTINCT account_id) AS accounts, sum(requests)::BIGINT AS requests,
               CASE WHEN source_type = 'partner' THEN 'confirmed by partner ' ELSE 'matches actor registry ' END
                 || source || ': ' || count(DISTINCT value) || ' ' || kind || ' value(s) on '
                 || count(DISTINCT account_id) || ' account(s)' AS evidence
        FROM intel_matches WHERE campaign_id IS NOT NULL
        GROUP BY campaign_id, source, source_type, actor, family, kind""")
    for name in ("_intel_keyed", "_intel_tpl", "_intel_prefix"):
        db.unregister(name)


def _prefix_hits(db: DatabaseAPI) -> pa.Table:
    """(value, client_ip): each of our addresses inside a network prefix we were given.

    Containment, not equality with our own /24 and /48 prefixes: partners share /16s, /22s and single hosts as
    often, and write a prefix as they like ("198.51.100.7/24" is 198.51.100.0/24). Our distinct addresses are
    parsed once and sorted, so each prefix is two binary searches.
    """
    out: dict[str, list] = {"value": [], "client_ip": []}
    values = db.query("SELECT DISTINCT value FROM intel_indicators WHERE kind = 'ip-prefix'").column("value")
    nets = []
    for value in values.to_pylist():
        try:
            nets.append((value, ipaddress.ip_network(value.strip(), strict=False)))
        except ValueError:  # not a prefix: matches nothing
            continue
    if nets:
        ips = db.query("SELECT DISTINCT client_ip FROM events WHERE client_ip IS NOT NULL").column("client_ip")
        parsed = parse_addresses(ips)
        names = np.asarray(ips.to_pylist(), dtype=object)
        is4 = np.flatnonzero(parsed.version == 4)
        order = is4[np.argsort(parsed.addr4[is4], kind="stable")]
        sorted4 = parsed.addr4[order]
        for value, net in nets:
            lo, hi = int(net.network_address), int(net.broadcast_address)
            if net.version == 4:
                rows = order[np.searchsorted(sorted4, lo, "left") : np.searchsorted(sorted4, hi, "right")]
            else:
                rows = [r for r, x in zip(parsed.v6_rows, parsed.v6_ints, strict=True) if lo <= x <= hi]
            out["value"] += [value] * len(rows)
            out["client_ip"] += names[rows].tolist()
    return pa.table(out, schema=pa.schema([(k, pa.string()) for k in out]))


def _keyed(db: DatabaseAPI, partner_key: bytes | None) -> pa.Table:
    """(kind, key_id, value, account_id): our accounts' e-mail and payment fingerprints under the partner key.

    A Python loop over distinct account values (not requests): HMAC has no SQL function in our engines.
    """
    out: dict[str, list] = {"kind": [], "key_id": [], "value": [], "account_id": []}
    wanted = db.scalar(
        "SELECT count(*) FROM intel_indicators WHERE kind IN ('email-hmac', 'payment-hmac') AND key_id IS NOT NULL"
    )
    if partner_key is not None and wanted:
        kid = key_id(partner_key)
        for kind, col in (("email-hmac", "email_hash"), ("payment-hmac", "payment_fingerprint")):
            rows = db.query(f"SELECT account_id, {col} AS v FROM accounts WHERE {col} IS NOT NULL").to_pydict()
            digests = {v: keyed_hash(partner_key, v) for v in set(rows["v"])}
            out["kind"] += [kind] * len(rows["v"])
            out["key_id"] += [kid] * len(rows["v"])
            out["value"] += [digests[v] for v in rows["v"]]
            out["account_id"] += rows["account_id"]
    return pa.table(out, schema=pa.schema([(k, pa.string()) for k in out]))


def _template_pairs(db: DatabaseAPI, threshold: float) -> pa.Table:
    """(value, template_id, similarity) for imported fingerprints at `threshold` or above against ours."""
    theirs = db.query(f"""
        SELECT DISTINCT value FROM intel_indicators
        WHERE kind = 'template-fingerprint' AND num_perm = {SIGNATURE_PERM} AND seed = {SIGNATURE_SEED}""")
    ours = db.query("SELECT template_id, signature FROM templates WHERE signature IS NOT NULL")
    values, ids, sims, their_values = [], [], [], []
    if theirs.num_rows:
        size = 4 * SIGNATURE_PERM
        their_values = [v for v in theirs.column("value").to_pylist() if len(v) == 2 * size]
    if their_values and ours.num_rows:
        a = np.stack([np.frombuffer(bytes.fromhex(v), dtype="<u4") for v in their_values])
        b = np.stack([np.frombuffer(s, dtype="<u4") for s in ours.column("signature").to_pylist()])
        our_ids = ours.column("template_id").to_pylist()
        for lo in range(0, len(a), 64):  # bounded memory: 64 x templates x perms booleans at a time
            sim = (a[lo : lo + 64, None, :] == b[None, :, :]).mean(axis=2)
            for i, j in zip(*np.nonzero(sim >= threshold), strict=True):
                values.append(their_values[lo + i])
                ids.append(our_ids[j])
                sims.append(float(sim[i, j]))
    return pa.table(
        {
            "value": pa.array(values, pa.string()),
            "template_id": pa.array(ids, pa.string()),
            "similarity": pa.array(sims, pa.float64()),
        }
    )
