"""A campaign's shareable indicators, collected from the store in SQL.

Only *distinctive* values leave: an address, prefix, user agent, TLS fingerprint, e-mail domain, payment or
template that also appears on any account outside a detected campaign is dropped. That is the privacy rule
(nothing about accounts outside flagged campaigns leaves the building) and it is also what makes a partner's
match meaningful: a value our own ordinary customers use says nothing about an actor. Further rules, argued in
docs/intel.md: Tor exits are never indicators (shared by everyone on Tor); prefixes only in hosting space
(datacenter, cloud, VPN), since a residential /24 is a few hundred unrelated households; template fingerprints
only for system prompts used by at least two campaign accounts (the operator's script, not one prompt), and
never their text; e-mails and payments only as keyed hashes, and only when a partner key is given.
"""

from __future__ import annotations

from datetime import UTC, datetime

from distillguard.engines.base import DatabaseAPI, sql_literal
from distillguard.intel.model import CampaignIntel, Indicator, key_id, keyed_hash
from distillguard.templates.stage import SIGNATURE_PERM, SIGNATURE_SEED

HOSTING_CLASSES = ("datacenter", "cloud", "vpn")
MIN_TEMPLATE_ACCOUNTS = 2

_OUTSIDE = "NOT EXISTS (SELECT 1 FROM campaign_members c WHERE c.account_id = o.account_id)"
_ADDRESS_KIND = "CASE WHEN e.ip_version = 6 THEN 'ipv6-addr' ELSE 'ipv4-addr' END"
# The client's autonomous system number, when the log carries it: a native record's `client_asn` (unknown
# fields are kept in `extra`, DESIGN §3.1) or a Glasswally event's `asn_number`. No shipped data maps
# addresses to ASNs, so unlogged ones stay unknown.
CLIENT_ASN = (
    "coalesce(json_extract_string({t}.extra, '$.client_asn'), "
    "json_extract_string({t}.extra, '$.glasswally.asn_number'))"
)
_EVENT_KINDS = (  # (kind expression, value expression over alias {t}, extra condition)
    (_ADDRESS_KIND, "{t}.client_ip", "e.ip_class IS DISTINCT FROM 'tor'"),
    ("'ip-prefix'", "{t}.ip_prefix", f"e.ip_class IN {HOSTING_CLASSES}"),
    ("'autonomous-system'", CLIENT_ASN, "true"),
    ("'user-agent'", "{t}.user_agent", "true"),
    ("'tls-fingerprint'", "{t}.tls_fingerprint", "true"),
)


def campaign_intel(
    db: DatabaseAPI,
    campaign_id: str,
    *,
    provider: str,
    tlp: str,
    partner_key: bytes | None = None,
    limit: int = 250,
) -> CampaignIntel:
    """Everything we would share about `campaign_id`; raises LookupError when there is no such campaign."""
    rows = db.query(f"SELECT * FROM campaigns WHERE campaign_id = {sql_literal(campaign_id)}").to_pylist()
    if not rows:
        raise LookupError(f"no campaign {campaign_id!r}; run `distillguard detect` and see campaigns.json")
    c = rows[0]
    indicators = event_indicators(db, campaign_id, limit) + template_indicators(db, campaign_id, limit)
    indicators += account_indicators(db, campaign_id, partner_key, limit)
    return CampaignIntel(
        provider=provider,
        campaign_id=campaign_id,
        actor=_attributed_actor(db, campaign_id),
        accounts=int(c["accounts"]),
        requests=int(c["requests"]),
        first_seen=c["first_seen"],
        last_seen=c["last_seen"],
        models=sorted(c["models"] or []),
        indicators=indicators,
        tlp=tlp,
    )


def event_indicators(db: DatabaseAPI, campaign_id: str, limit: int) -> list[Indicator]:
    """Addresses, hosting prefixes, autonomous systems (when logged), user agents and TLS fingerprints seen only
    on campaign accounts, busiest first, at most `limit` per kind."""
    parts = []
    for kind, value, cond in _EVENT_KINDS:
        e, o = value.format(t="e"), value.format(t="o")
        parts.append(f"""
            SELECT {kind} AS kind, {e} AS value, count(DISTINCT e.account_id) AS accounts, count(*) AS requests,
                   min(e.ts) AS first_seen, max(e.ts) AS last_seen
            FROM events e JOIN campaign_members m USING (account_id)
            WHERE m.campaign_id = {sql_literal(campaign_id)} AND {e} IS NOT NULL AND {cond}
              AND {e} NOT IN (SELECT {o} FROM events o WHERE {o} IS NOT NULL AND {_OUTSIDE})
            GROUP BY ALL""")
    sql = " UNION ALL ".join(parts)
    rows = db.query(f"""
        SELECT * FROM ({sql})
        QUALIFY row_number() OVER (PARTITION BY kind ORDER BY requests DESC, value) <= {int(limit)}
        ORDER BY kind, requests DESC, value""").to_pylist()
    return [Indicator(**r) for r in rows]


def template_indicators(db: DatabaseAPI, campaign_id: str, limit: int) -> list[Indicator]:
    """MinHash fingerprints (never text) of system-prompt templates used only by campaign accounts."""
    rows = db.query(f"""
        WITH used AS (
          SELECT r.system_template AS template_id, r.account_id, e.ts
          FROM request_templates r JOIN events e USING (request_id)
          WHERE r.system_template IS NOT NULL)
        SELECT t.signature, count(DISTINCT u.account_id) AS accounts, count(*) AS requests,
               min(u.ts) AS first_seen, max(u.ts) AS last_seen
        FROM used u JOIN campaign_members m USING (account_id) JOIN templates t USING (template_id)
        WHERE m.campaign_id = {sql_literal(campaign_id)}
          AND u.template_id NOT IN (SELECT o.template_id FROM used o WHERE {_OUTSIDE})
        GROUP BY t.template_id, t.signature
        HAVING count(DISTINCT u.account_id) >= {MIN_TEMPLATE_ACCOUNTS}
        ORDER BY requests DESC, t.template_id LIMIT {int(limit)}""").to_pylist()
    return [
        Indicator(
            "template-fingerprint",
            bytes(r.pop("signature")).hex(),
            template_kind="system",
            num_perm=SIGNATURE_PERM,
            seed=SIGNATURE_SEED,
            **r,
        )
        for r in rows
    ]


def account_indicators(db: DatabaseAPI, campaign_id: str, partner_key: bytes | None, limit: int) -> list[Indicator]:
    """E-mail domains in clear; e-mail and payment fingerprints as keyed hashes (only with a partner key)."""
    columns = [("email-domain", "email_domain")]
    if partner_key is not None:
        columns += [("email-hmac", "email_hash"), ("payment-hmac", "payment_fingerprint")]
    out: list[Indicator] = []
    for kind, col in columns:
        rows = db.query(f"""
            SELECT a.{col} AS value, count(*) AS accounts FROM accounts a JOIN campaign_members m USING (account_id)
            WHERE m.campaign_id = {sql_literal(campaign_id)} AND a.{col} IS NOT NULL
              AND a.{col} NOT IN (
                SELECT o.{col} FROM accounts o WHERE o.{col} IS NOT NULL AND {_OUTSIDE})
            GROUP BY ALL ORDER BY accounts DESC, value LIMIT {int(limit)}""").to_pylist()
        if kind == "email-domain":
            out += [Indicator(kind, r["value"], accounts=r["accounts"]) for r in rows]
        else:
            assert partner_key is not None
            kid = key_id(partner_key)
            out += [
                Indicator(kind, keyed_hash(partner_key, r["value"]), accounts=r["accounts"], key_id=kid) for r in rows
            ]
    return out


def _attributed_actor(db: DatabaseAPI, campaign_id: str) -> str | None:
    """Our own attribution of the campaign when it is at least moderate (`distillguard attribute`)."""
    if not db.table_exists("campaign_attribution"):
        return None
    actor = db.scalar(f"""
        SELECT actor FROM campaign_attribution
        WHERE campaign_id = {sql_literal(campaign_id)} AND confidence IN ('moderate', 'high')""")
    return str(actor) if actor else None


def as_datetime(value: object) -> datetime | None:
    """A naive-UTC timestamp (as the store keeps them) from a store row, a STIX timestamp or an ISO string."""
    if value is None:
        return None
    ts = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts
