"""Template signals: accounts that habitually use the same rare prompt template, and accounts living on one.

Read `request_templates` and `templates` (the template stage, `distillguard.templates`). A shared template
links two accounts only when it says something neither their organisation nor the crowd explains:

- *Habitual*: each account sends at least `min_requests` requests and `min_share` of its traffic under the
  template. Copying a popular prompt once is what people do; running a script on it is what campaigns do.
- *Rare*: rarity = ln(U / u) / ln(U / 2), where u is the number of distinct *parties* using the template at
  all and U the number of parties in the store (1 for a template two parties share, 0 for one everybody
  uses). Templates below `min_rarity` ("You are a helpful assistant") link nobody.
- *Across parties*: a party is an organisation (`org_id`), or the account itself when it has none or is a
  reseller's (a reseller's accounts are different customers). Colleagues share their company's prompt;
  students paste their course's assignment. A template used by one party links nobody, and a pair within
  one party gets no template link.

A pair's weight combines the rarity r of every shared template as independent evidence, 1 - Π(1 - s·r)
(s: `scale`), so several moderately rare templates in common weigh more than one. Templates habitually used by more than
`max_accounts` accounts are skipped by `shared_key_pairs` (their pairs grow with the square of their users).
"""

from __future__ import annotations

import pyarrow as pa

from distillguard.signals.base import AccountSignal, DetectionContext, PairSignal
from distillguard.signals.registry import register
from distillguard.signals.sql import shared_key_pairs

# Each account's party: its organisation, or itself (no organisation, or a reseller's account).
PARTIES = """
    SELECT e.account_id, count(*) AS n,
           CASE WHEN any_value(a.account_type) = 'reseller' THEN 'acct:' || e.account_id
                ELSE coalesce(any_value(a.org_id), any_value(e.org_id), 'acct:' || e.account_id) END AS party
    FROM events e LEFT JOIN accounts a USING (account_id) GROUP BY e.account_id"""


def _habits(column: str, ctx: DetectionContext, prefix: str, min_rarity: float) -> str:
    """SQL: (account_id, key, evidence_id, rarity) for every account's habitual use of a template that more
    than one party uses and that is at least `min_rarity` rare."""
    min_requests = int(ctx.setting(f"{prefix}.min_requests", 5))
    min_share = float(ctx.setting(f"{prefix}.min_share", 0.1))
    min_rarity = float(ctx.setting(f"{prefix}.min_rarity", min_rarity))
    return f"""
        WITH parties AS ({PARTIES}),
        uses AS (SELECT account_id, {column} AS template_id, count(*) AS n, min(request_id) AS evidence_id
                 FROM request_templates WHERE {column} IS NOT NULL GROUP BY ALL),
        spread AS (SELECT u.template_id, count(DISTINCT p.party) AS parties
                   FROM uses u JOIN parties p USING (account_id) GROUP BY 1),
        total AS (SELECT count(DISTINCT party) AS parties FROM parties),
        rare AS (SELECT s.template_id,
                        least(0.99, ln(t.parties / s.parties) / ln(greatest(t.parties / 2.0, 2.0))) AS rarity
                 FROM spread s, total t WHERE s.parties >= 2)
        SELECT u.account_id, u.template_id AS key, u.evidence_id, r.rarity
        FROM uses u JOIN parties p USING (account_id) JOIN rare r USING (template_id)
        WHERE u.n >= {min_requests} AND u.n >= {min_share} * p.n AND r.rarity >= {min_rarity}"""


class _SharedTemplate(PairSignal):
    """Pairs of accounts from different parties that habitually use the same rare template.

    `scale` caps what one shared template can weigh and `min_rarity` is the commonest template that still
    counts; both are lower for user-prompt frames, which are a few words ("User request: <*>") that unrelated
    scripts and public prompt datasets share, than for system prompts, which are written paragraphs.
    """

    column: str
    noun: str
    scale: float
    min_rarity: float

    def compute(self, ctx: DetectionContext) -> pa.Table:
        cap = int(ctx.setting(f"{self.name}.max_accounts", 2000))
        scale = float(ctx.setting(f"{self.name}.scale", self.scale))
        habits = _habits(self.column, ctx, self.name, self.min_rarity)
        pairs = shared_key_pairs(habits, max_accounts=cap, evidence="evidence_id")
        return ctx.db.query(f"""
            WITH pairs AS ({pairs}),
            habits AS ({habits}),
            usable AS (SELECT key FROM habits GROUP BY key HAVING count(*) <= {cap}),
            parties AS ({PARTIES}),
            shared AS (
              SELECT p.account_a, p.account_b, p.evidence, ha.key, ha.rarity, hb.evidence_id AS evidence_b
              FROM pairs p
              JOIN parties pa ON pa.account_id = p.account_a
              JOIN parties pb ON pb.account_id = p.account_b AND pb.party <> pa.party
              JOIN habits ha ON ha.account_id = p.account_a
              JOIN habits hb ON hb.account_id = p.account_b AND hb.key = ha.key
              WHERE ha.key IN (SELECT key FROM usable))
            SELECT s.account_a, s.account_b, 1 - exp(sum(ln(1 - {scale} * s.rarity))) AS weight,
                   list_distinct(list_concat(any_value(s.evidence)[1:2], [arg_max(s.evidence_b, s.rarity)]))
                     AS evidence,
                   count(*) || ' shared {self.noun} template(s); rarest ' || arg_max(s.key, s.rarity)
                     || ' (rarity ' || round(max(s.rarity), 2) || ', ' || arg_max(t.accounts, s.rarity)
                     || ' accounts): "' || left(arg_max(t.example_masked, s.rarity), 80) || '"' AS detail
            FROM shared s JOIN templates t ON t.template_id = s.key
            GROUP BY s.account_a, s.account_b""")


@register
class SharedSystemTemplate(_SharedTemplate):
    name = "shared_system_template"
    family = "templates"
    description = "accounts of different parties habitually using the same rare system-prompt template"
    column = "system_template"
    noun = "system-prompt"
    scale = 1.0
    min_rarity = 0.2


@register
class SharedUserTemplate(_SharedTemplate):
    name = "shared_user_template"
    family = "templates"
    description = "accounts of different parties habitually using the same rare user-prompt template (masked)"
    column = "user_template"
    noun = "user-prompt"
    scale = 0.5
    min_rarity = 0.3


@register
class TemplateConcentration(AccountSignal):
    name = "template_concentration"
    family = "templates"
    description = "share of the account's requests under its single most used template (system or user)"
    threshold = 0.4

    def compute(self, ctx: DetectionContext) -> pa.Table:
        min_requests = int(ctx.setting(f"{self.name}.min_requests", 20))
        return ctx.db.query(f"""
            WITH totals AS (SELECT account_id, count(*) AS total FROM request_templates GROUP BY 1
                            HAVING count(*) >= {min_requests}),
            per AS (
              SELECT account_id, system_template AS template_id, count(*) AS n,
                     list(request_id ORDER BY request_id)[1:3] AS evidence
              FROM request_templates WHERE system_template IS NOT NULL GROUP BY ALL
              UNION ALL
              SELECT account_id, user_template, count(*), list(request_id ORDER BY request_id)[1:3]
              FROM request_templates WHERE user_template IS NOT NULL GROUP BY ALL),
            top AS (SELECT account_id, arg_max(template_id, n) AS template_id, max(n) AS n,
                           arg_max(evidence, n) AS evidence FROM per GROUP BY 1)
            SELECT p.account_id, p.n / t.total AS value, p.evidence,
                   p.n || ' of ' || t.total || ' requests under ' || m.kind || ' template ' || p.template_id
                     || ' (' || m.accounts || ' accounts): "' || left(m.example_masked, 80) || '"' AS detail
            FROM top p JOIN totals t USING (account_id) JOIN templates m USING (template_id)""")
