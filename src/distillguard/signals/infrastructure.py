"""Infrastructure links: accounts that share what independent customers rarely share.

Payment fingerprints, sets of client addresses (as EvilCohort links accounts by the address sets they log in
from), client fingerprints (user agent + TLS) and sign-up bursts with patterned e-mail addresses. Each is a
`PairSignal`; keys shared by very many accounts are ignored (see `shared_key_pairs`), which is what keeps a
university NAT or a company VPN egress from linking its users.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from distillguard.signals.base import AccountSignal, DetectionContext, PairSignal
from distillguard.signals.registry import register
from distillguard.signals.sql import first_values, shared_key_pair_counts, shared_key_pairs


@register
class SharedPayment(PairSignal):
    name = "shared_payment"
    family = "infrastructure"
    description = "accounts paying with the same payment fingerprint"

    def compute(self, ctx: DetectionContext) -> pa.Table:
        cap = ctx.setting("shared_payment.max_accounts", 1000)
        pairs = shared_key_pairs(
            "SELECT account_id, payment_fingerprint AS key, account_id AS evidence_id FROM accounts",
            max_accounts=cap,
            evidence="evidence_id",
        )
        return ctx.db.query(
            f"""
            SELECT account_a, account_b, 1.0 AS weight, evidence,
                   'same payment fingerprint ' || keys[1] AS detail
            FROM ({pairs})""",
        )


@register
class SharedAddresses(PairSignal):
    name = "shared_addresses"
    family = "infrastructure"
    description = "accounts whose sets of client addresses overlap (several shared addresses)"

    def compute(self, ctx: DetectionContext) -> pa.Table:
        keyed = ctx.db.query("""
            SELECT account_id, client_ip AS key, any_value(request_id) AS evidence_id FROM events
            WHERE client_ip IS NOT NULL AND ip_class IS DISTINCT FROM 'private' GROUP BY ALL""")
        # Overlap relative to the smaller address set: two accounts drawing from one small pool overlap
        # heavily; a traveller who once used a hotel's Wi-Fi does not. Weak overlaps are dropped as the pairs
        # are counted.
        pairs = shared_key_pair_counts(
            keyed,
            max_accounts=ctx.setting("shared_addresses.max_accounts", 300),
            min_shared=ctx.setting("shared_addresses.min_shared", 2),
            min_overlap=ctx.setting("shared_addresses.min_weight", 0.2),
        )
        weight = pc.divide(
            pc.cast(pairs.column("shared"), pa.float64()), pc.min_element_wise(pairs["n_a"], pairs["n_b"])
        )
        detail = pc.binary_join_element_wise(
            pc.cast(pairs["shared"], pa.string()),
            pa.scalar(" shared client addresses of "),
            pc.cast(pc.min_element_wise(pairs["n_a"], pairs["n_b"]), pa.string()),
            "",
        )
        return pa.table(
            {
                "account_a": pairs["account_a"],
                "account_b": pairs["account_b"],
                "weight": pc.min_element_wise(weight, pa.scalar(1.0)),
                "evidence": pairs["evidence"],
                "detail": detail,
            }
        )


@register
class SharedClientFingerprint(PairSignal):
    name = "shared_client_fingerprint"
    family = "infrastructure"
    description = "accounts using the same uncommon user agent + TLS fingerprint combination"

    def compute(self, ctx: DetectionContext) -> pa.Table:
        cap = ctx.setting("shared_client_fingerprint.max_accounts", 200)
        pairs = shared_key_pairs(
            "SELECT account_id, user_agent || ' | ' || tls_fingerprint AS key, any_value(request_id) AS evidence_id "
            "FROM events WHERE user_agent IS NOT NULL AND tls_fingerprint IS NOT NULL GROUP BY ALL",
            max_accounts=cap,
            evidence="evidence_id",
        )
        return ctx.db.query(
            f"""
            SELECT account_a, account_b, 0.5 AS weight, evidence,
                   'same uncommon client fingerprint ' || left(keys[1], 120) AS detail
            FROM ({pairs})""",
        )


@register
class SignupBurst(PairSignal):
    name = "signup_burst"
    family = "infrastructure"
    description = "accounts created within the same hour with the same pathway, e-mail domain and address pattern"

    def compute(self, ctx: DetectionContext) -> pa.Table:
        cap = ctx.setting("signup_burst.max_accounts", 500)
        keyed = """
            SELECT account_id, account_id AS evidence_id,
                   concat_ws(' / ', account_type, email_domain, json_extract_string(extra, '$.email_pattern'),
                             strftime(date_trunc('hour', created_at), '%Y-%m-%d %H:00')) AS key
            FROM accounts
            WHERE created_at IS NOT NULL AND email_domain IS NOT NULL
              AND json_extract_string(extra, '$.email_pattern') IS NOT NULL"""
        pairs = shared_key_pairs(keyed, max_accounts=cap, evidence="evidence_id")
        return ctx.db.query(
            f"""
            SELECT account_a, account_b, 0.7 AS weight, evidence,
                   'signed up in the same hour as ' || keys[1] AS detail
            FROM ({pairs})""",
        )


@register
class RiskyAddressShare(AccountSignal):
    name = "risky_address_share"
    family = "infrastructure"
    description = "share of the account's requests from datacenter, cloud, VPN or Tor addresses"
    threshold = 0.5

    def compute(self, ctx: DetectionContext) -> pa.Table:
        return ctx.db.query(f"""
            SELECT account_id,
                   avg(CASE WHEN ip_class IN ('datacenter', 'cloud', 'vpn', 'tor') THEN 1.0 ELSE 0.0 END) AS value,
                   {first_values("request_id", "epoch_ms(ts)")}
                       FILTER (WHERE ip_class IN ('datacenter', 'cloud', 'vpn', 'tor')) AS evidence,
                   count(DISTINCT client_ip) || ' addresses; classes ' ||
                   array_to_string(list(DISTINCT ip_class ORDER BY ip_class), ', ') AS detail
            FROM events GROUP BY account_id""")
