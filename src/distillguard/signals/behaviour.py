"""Account behaviour: how an account uses the API over time, from `events` alone.

Harvesting looks like a job, not a person: steady volume around the clock, machine-regular gaps, long
answers asked of short prompts, the same `max_tokens` every time, few repeated prompts, and an account that
goes heavy soon after it was opened. Each feature alone is common among legitimate heavy users (that is why
they are features, not verdicts); the scorer weighs them together with content and links.
"""

from __future__ import annotations

import pyarrow as pa

from distillguard.signals.base import AccountSignal, DetectionContext
from distillguard.signals.registry import register
from distillguard.signals.sql import first_values


class _SqlAccountSignal(AccountSignal):
    """An account signal that is one SQL query returning account_id, value, evidence, detail."""

    sql: str

    def compute(self, ctx: DetectionContext) -> pa.Table:
        return ctx.db.query(self.sql)


@register
class DailyVolume(_SqlAccountSignal):
    name = "daily_volume"
    family = "behaviour"
    description = "requests per active day"
    threshold = 200.0
    sql = f"""
        SELECT account_id, count(*) / count(DISTINCT date_trunc('day', ts)) AS value,
               {first_values("request_id", "epoch_ms(ts)")} AS evidence,
               count(*) || ' requests over ' || count(DISTINCT date_trunc('day', ts)) || ' active days' AS detail
        FROM events GROUP BY account_id"""


@register
class HoursCovered(_SqlAccountSignal):
    name = "hours_covered"
    family = "behaviour"
    description = "distinct hours of the day (UTC) the account is active in; people sleep, load balancers do not"
    threshold = 20.0
    sql = """
        SELECT account_id, count(DISTINCT hour(ts))::DOUBLE AS value, []::VARCHAR[] AS evidence,
               'active in ' || count(DISTINCT hour(ts)) || ' of 24 hours of the day' AS detail
        FROM events GROUP BY account_id HAVING count(*) >= 24"""


@register
class GapRegularity(_SqlAccountSignal):
    name = "gap_regularity"
    family = "behaviour"
    description = "1 - coefficient of variation of the gaps between consecutive requests inside sessions"
    threshold = 0.6
    sql = """
        WITH gaps AS (
          SELECT account_id, epoch(ts - lag(ts) OVER (PARTITION BY account_id ORDER BY ts)) AS gap
          FROM events
        )
        SELECT account_id, greatest(0.0, 1 - stddev_samp(gap) / nullif(avg(gap), 0)) AS value,
               []::VARCHAR[] AS evidence,
               'median gap ' || round(median(gap), 1) || ' s, coefficient of variation '
                 || round(stddev_samp(gap) / nullif(avg(gap), 0), 2) AS detail
        FROM gaps WHERE gap IS NOT NULL AND gap < 1800
        GROUP BY account_id HAVING count(*) >= 20"""


@register
class OutputInputRatio(_SqlAccountSignal):
    name = "output_input_ratio"
    family = "behaviour"
    description = "output tokens per input token: harvesting asks for long answers to short prompts"
    threshold = 3.0
    sql = f"""
        SELECT account_id, sum(output_tokens) / nullif(sum(input_tokens), 0) AS value,
               {first_values("request_id", "2147483647 - least(output_tokens, 2147483647)")} AS evidence,
               sum(output_tokens) || ' output vs ' || sum(input_tokens) || ' input tokens' AS detail
        FROM events WHERE input_tokens IS NOT NULL AND output_tokens IS NOT NULL
        GROUP BY account_id HAVING sum(input_tokens) > 0"""


@register
class MaxTokensHabit(_SqlAccountSignal):
    name = "max_tokens_habit"
    family = "behaviour"
    description = "share of requests using the account's most common max_tokens, when that value is large"
    threshold = 0.95
    # Every account, however light (as unique_prompt_ratio): a person whose SDK sends max_tokens=4096 has the
    # habit from the first request. With a 20-request minimum it read as "has 20 requests", and the scorer's
    # most confident false positives were ordinary accounts just past that count.
    sql = """
        WITH counts AS (
          SELECT account_id, max_tokens, count(*) AS n, sum(count(*)) OVER (PARTITION BY account_id) AS total
          FROM events WHERE max_tokens IS NOT NULL GROUP BY account_id, max_tokens
        )
        SELECT account_id, arg_max(n, n) / any_value(total) AS value, []::VARCHAR[] AS evidence,
               'max_tokens=' || arg_max(max_tokens, n) || ' in ' || max(n) || ' of ' || any_value(total)
                 || ' requests' AS detail
        FROM counts GROUP BY account_id HAVING arg_max(max_tokens, n) >= 4096"""


@register
class UniquePromptRatio(_SqlAccountSignal):
    name = "unique_prompt_ratio"
    family = "behaviour"
    description = "distinct first user messages per request, floored at 0.9: many distinct tasks is a harvest's shape"
    threshold = 0.95
    # Every account, however light: a person's few prompts are as distinct as a harvest's. With a minimum
    # count, a light account read as 0 ("repeats everything") and the ratio became a proxy for volume,
    # which flagged ordinary people with a few dozen requests.
    # Floored: repeating prompts is no evidence of innocence. A harvester that asks each task several times
    # (several answers per task, for rejection sampling) would otherwise buy its way out with the ratio;
    # unfloored, bare tasks sent ~4 times each were not flagged at all. Evaluation companies repeat their
    # benchmarks too, so the scorer trains on them at full size (`large-orgs-xl`) to learn what else sets
    # them apart (docs/quality.md, "Harvests that do not ask for reasoning"). 0.9 is about where
    # harvesting accounts sit in the training runs.
    floor = 0.9
    sql = f"""
        SELECT account_id, greatest({floor}, count(DISTINCT hash(first_user_message)) / count(*)) AS value,
               []::VARCHAR[] AS evidence,
               count(DISTINCT hash(first_user_message)) || ' distinct prompts in ' || count(*) || ' requests'
                 AS detail
        FROM events WHERE first_user_message IS NOT NULL GROUP BY account_id"""


@register
class NewModelPivot(_SqlAccountSignal):
    name = "new_model_pivot"
    family = "behaviour"
    description = (
        "share of the account's traffic moved to a model within 24 h of that model's first appearance, "
        "among accounts active before it"
    )
    threshold = 0.3
    sql = f"""
        WITH first_seen AS (SELECT model, min(ts) AS released FROM events WHERE model IS NOT NULL GROUP BY model),
        newest AS (SELECT model, released FROM first_seen
                   WHERE released > (SELECT min(ts) + INTERVAL 2 DAY FROM events)),
        per_account AS (
          SELECT e.account_id, n.model, n.released,
                 count(*) FILTER (WHERE e.ts < n.released) AS before,
                 count(*) FILTER (WHERE e.ts BETWEEN n.released AND n.released + INTERVAL 1 DAY) AS day_after,
                 count(*) FILTER (WHERE e.ts BETWEEN n.released AND n.released + INTERVAL 1 DAY
                                  AND e.model = n.model) AS moved,
                 {first_values("e.request_id", "epoch_ms(e.ts)")} FILTER (WHERE e.model = n.model) AS evidence
          FROM events e CROSS JOIN newest n GROUP BY ALL
        )
        SELECT account_id, max(moved / day_after) AS value, arg_max(evidence, moved / day_after) AS evidence,
               arg_max(moved || ' of ' || day_after || ' requests in the 24 h after ' || model || ' appeared',
                       moved / day_after) AS detail
        FROM per_account WHERE before >= 10 AND day_after >= 10 GROUP BY account_id"""


@register
class HeavyUseSoonAfterSignup(_SqlAccountSignal):
    name = "heavy_use_soon_after_signup"
    family = "behaviour"
    description = "days from account creation to its first day with 100+ requests (value = 1 / (1 + days))"
    threshold = 0.25
    sql = """
        WITH daily AS (
          SELECT account_id, date_trunc('day', ts) AS day, count(*) AS n, min(request_id) AS first_request
          FROM events GROUP BY ALL
        ), first_heavy AS (
          SELECT account_id, min(day) AS day, arg_min(first_request, day) AS first_request
          FROM daily WHERE n >= 100 GROUP BY account_id
        )
        SELECT f.account_id, 1.0 / (1 + greatest(0, date_diff('day', a.created_at, f.day))) AS value,
               [f.first_request] AS evidence,
               'first 100-request day ' || date_diff('day', a.created_at, f.day) || ' days after sign-up ('
                 || coalesce(a.account_type, 'unknown pathway') || ')' AS detail
        FROM first_heavy f JOIN accounts a USING (account_id) WHERE a.created_at IS NOT NULL"""
