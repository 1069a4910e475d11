"""Identity: what the provider knows about who holds the account, from the `accounts` table.

Harvesting campaigns open accounts they can throw away: unverified individual accounts, programme accounts
(education, research, startup) that passed a light check, reseller seats. Legitimate heavy users that share
campaign tells on purpose (an evaluation company's harness, a coding-agent platform) are verified customers of
one declared organisation. Verification alone is no verdict (campaigns pass it sometimes), so it is a feature
the scorer weighs; the cluster-level form ("are these linked accounts one verified organisation?") is built
next to the other cluster features in `scoring/features.py`.
"""

from __future__ import annotations

import pyarrow as pa

from distillguard.signals.base import AccountSignal, DetectionContext
from distillguard.signals.registry import register


@register
class UnverifiedAccount(AccountSignal):
    name = "unverified_account"
    family = "identity"
    description = "1 when the provider has not verified the account holder, 0 when it has"
    threshold = 1.0

    def compute(self, ctx: DetectionContext) -> pa.Table:
        # Only accounts whose verification is known get a row: an unknown is not evidence either way.
        return ctx.db.query("""
            SELECT account_id, CASE WHEN verified THEN 0.0 ELSE 1.0 END AS value, []::VARCHAR[] AS evidence,
                   CASE WHEN verified THEN 'verified' ELSE 'unverified' END || ' '
                     || coalesce(account_type, 'unknown-pathway') || ' account'
                     || coalesce(' of organisation ' || org_id, '')
                     || coalesce(', created ' || strftime(created_at, '%Y-%m-%d'), '') AS detail
            FROM accounts
            WHERE verified IS NOT NULL AND account_id IN (SELECT DISTINCT account_id FROM events)""")
