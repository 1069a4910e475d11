"""Content: what an account's requests ask for, from the per-request labels in `request_content`.

A harvest is recognisable by what it asks for at volume: written-out reasoning (the training signal a
reasoning model is distilled from), one narrow valuable capability, or data-set-shaped output. Each is
common among legitimate users one request at a time (a student asks for steps, a developer sends mostly
code, a team generates labelled data for its own classifier), so these are shares over many requests and
features for the scorer, not verdicts.

Thresholds were read off simulated traffic generated from the TRAIN split (`python
scripts/train_content_models.py --thresholds train`, which prints each value's distribution per role) and
checked on the TEST split; the tables are in docs/quality.md, "Content classifiers":

- `cot_elicitation_share` 0.45: the lowest multiple of 0.05 above every non-campaign account on the train
  split. The closest are evaluation companies (benchmarks asking to "think step by step", about 0.4), then
  benign accounts (at most 0.28 on train, 0.40 on the test split); every campaign account of the standard
  scenario is above 0.47. In the evasive scenario the reseller-mixed accounts of campaign C (60% other
  customers' traffic) fall below it (median 0.37); those of A and B stay above.
- `capability_concentration` 0.9: the simulated campaigns spread over three or four capabilities (top share
  at most 0.57), while single-purpose people reach 1.0, so no threshold separates them; 0.9 limits the fired
  bit to the 3-5% most concentrated benign accounts. It describes an account; the scorer weighs it.
- `synthetic_data_share` 0.5: half of the account's requests ask for generated, data-set-shaped output; on
  the simulated traffic only the synthetic-data customers (0.97) reach it, every other account stays below 0.11.

Only accounts with at least `MIN_REQUESTS` requests get a row: a share over a handful of requests says
nothing about volume, and one copied template must not make a casual user look like a harvest.
"""

from __future__ import annotations

import pyarrow as pa

from distillguard.signals.base import AccountSignal, DetectionContext
from distillguard.signals.registry import register
from distillguard.signals.sql import descending, first_values

MIN_REQUESTS = 20
LABEL_CUTOFF = 0.5  # a request counts as CoT elicitation / data generation from this score on


class _ContentSignal(AccountSignal):
    """An account signal that is one SQL query over `request_content`."""

    family = "content"
    sql: str

    def compute(self, ctx: DetectionContext) -> pa.Table:
        return ctx.db.query(self.sql)


def _share_sql(score: str, what: str) -> str:
    """Share of an account's requests whose `score` reaches LABEL_CUTOFF; evidence: its top-scoring requests."""
    return f"""
        SELECT account_id,
               avg(CASE WHEN {score} >= {LABEL_CUTOFF} THEN 1.0 ELSE 0.0 END) AS value,
               {first_values("request_id", descending(score))} AS evidence,
               count(*) FILTER (WHERE {score} >= {LABEL_CUTOFF}) || ' of ' || count(*) || ' requests {what} ('
                 || '{score} >= {LABEL_CUTOFF}; highest ' || round(max({score}), 2) || ')' AS detail
        FROM request_content GROUP BY account_id HAVING count(*) >= {MIN_REQUESTS}"""


@register
class CotElicitationShare(_ContentSignal):
    name = "cot_elicitation_share"
    description = "share of the account's requests that ask the model to write out its reasoning"
    threshold = 0.45
    sql = _share_sql("cot_score", "ask for written-out reasoning")


@register
class SyntheticDataShare(_ContentSignal):
    name = "synthetic_data_share"
    description = "share of the account's requests that ask for generated, data-set-shaped output"
    threshold = 0.5
    sql = _share_sql("synthetic_score", "ask for generated data-set output")


@register
class CapabilityConcentration(_ContentSignal):
    name = "capability_concentration"
    description = (
        "share of the account's requests in its most used capability other than general chat: harvesting "
        "concentrates on one narrow, valuable capability"
    )
    threshold = 0.9
    sql = f"""
        WITH per_capability AS (
          SELECT account_id, capability, count(*) AS n,
                 {first_values("request_id", descending("capability_score"))} AS evidence
          FROM request_content GROUP BY account_id, capability
        ),
        ranked AS (
          SELECT *, sum(n) OVER (PARTITION BY account_id) AS total,
                 row_number() OVER (PARTITION BY account_id
                                    ORDER BY capability = 'general_chat', n DESC, capability) AS rank
          FROM per_capability
        ),
        runner_up AS (SELECT account_id, capability, n FROM ranked WHERE rank = 2 AND capability <> 'general_chat')
        SELECT t.account_id, t.n / t.total AS value, t.evidence,
               round(100 * t.n / t.total, 1) || '% of ' || t.total || ' requests are ' || t.capability
                 || coalesce(' (next: ' || r.capability || ' ' || round(100 * r.n / t.total, 1) || '%)', '')
                 AS detail
        FROM ranked t LEFT JOIN runner_up r ON r.account_id = t.account_id
        WHERE t.rank = 1 AND t.capability <> 'general_chat' AND t.total >= {MIN_REQUESTS}"""
