"""Recommended actions per account (`enforcement`), from thresholds a team can set.

The gateway reads this table; here it is only a recommendation with its reason. Actions, mildest first:
none, review, throttle, step_up, suspend, cluster_takedown.
"""

from __future__ import annotations

from dataclasses import dataclass

from distillguard.engines.base import DatabaseAPI


@dataclass(frozen=True)
class EnforcementPolicy:
    review: float = 0.2  # score at which an analyst should look
    throttle: float = 0.35
    step_up: float = 0.5  # flagged accounts below `suspend` must re-verify (unless in a large campaign)
    suspend: float = 0.9
    takedown_accounts: int = 10  # a campaign this large is taken down as a whole


def recommend_actions(db: DatabaseAPI, policy: EnforcementPolicy) -> None:
    db.execute(f"""
        CREATE OR REPLACE TABLE enforcement AS
        SELECT d.account_id,
               CASE WHEN d.campaign_id IS NOT NULL AND c.accounts >= {policy.takedown_accounts}
                         THEN 'cluster_takedown'
                    WHEN d.flagged AND d.score >= {policy.suspend} THEN 'suspend'
                    WHEN d.flagged OR d.score >= {policy.step_up} THEN 'step_up'
                    WHEN d.score >= {policy.throttle} THEN 'throttle'
                    WHEN d.score >= {policy.review} THEN 'review'
                    ELSE 'none' END AS action,
               d.score, d.campaign_id,
               coalesce(d.top_reasons, '') AS reason,
               now()::TIMESTAMP AS decided_at
        FROM account_detections d LEFT JOIN campaigns c USING (campaign_id)""")
