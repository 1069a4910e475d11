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
(s: `scale`), so several moderately rare templates in common weigh more than one.

Pairs grow with the square of a template's habitual users, and a hydra network runs one script on
thousands of accounts. A template with at most `dense` habitual users links all of them (`shared_key_pairs`);
a bigger one links each user to its `ring` next users in a fixed hash order (a circulant graph: connected,
every account with 2·`ring` neighbours, users·`ring` pairs instead of users²/2); one with more than
`max_accounts` habitual users links nobody.
"""

from __future__ import annotations

import pyarrow as pa

from distillguard.signals.base import AccountSignal, DetectionContext, PairSignal
from distillguard.signals.registry import register
from distillguard.signals.sql import shared_key_pairs

# Each account's party: its organisation, or itself (no organisation, or a reseller's account).
PARTIES = """
    SELECT e.account_id, e.n,
           CASE WHEN a.account_type = 'reseller' THEN 'acct:' || e.account_id
                ELSE coalesce(a.org_id, e.org_id, 'acct:' || e.account_id) END AS party
    FROM (SELECT account_id, count(*) AS n, any_value(org_id) AS org_id FROM events GROUP BY 1) e
    LEFT JOIN (SELECT account_id, any_value(account_type) AS account_type, any_value(org_id) AS org_id
               FROM accounts GROUP BY 1) a USING (account_id)"""


def _habits(column: str, ctx: DetectionContext, prefix: str, min_rarity: float) -> str:
    """SQL: (account_id, party, key, evidence_id, rarity, size, pos) for every account's habitual use of a
    template that more than one party uses and that is at least `min_rarity` rare; `size` is the template's
    number of habitual users and `pos` the account's place among them in hash order."""
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
                 FROM spread s, total t WHERE s.parties >= 2),
        habits AS (
          SELECT u.account_id, p.party, u.template_id AS key, u.evidence_id, r.rarity
          FROM uses u JOIN parties p USING (account_id) JOIN rare r USING (template_id)
          WHERE u.n >= {min_requests} AND u.n >= {min_share} * p.n AND r.rarity >= {min_rarity})
        SELECT *, count(*) OVER (PARTITION BY key) AS size,
               row_number() OVER (PARTITION BY key ORDER BY hash(account_id), account_id) - 1 AS pos
        FROM habits"""


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
        cap = int(ctx.setting(f"{self.name}.max_accounts", 20_000))
        dense = int(ctx.setting(f"{self.name}.dense", 500))
        ring = int(ctx.setting(f"{self.name}.ring", 30))
        scale = float(ctx.setting(f"{self.name}.scale", self.scale))
        db = ctx.db
        db.execute(f"""
            CREATE OR REPLACE TEMP TABLE _st_habits AS
            SELECT * FROM ({_habits(self.column, ctx, self.name, self.min_rarity)}) WHERE size <= {cap}""")
        dense_pairs = shared_key_pairs(
            f"SELECT account_id, key, evidence_id FROM _st_habits WHERE size <= {dense}", max_accounts=dense
        )
        out = db.query(f"""
            WITH pairs AS (
              SELECT account_a, account_b FROM ({dense_pairs})
              UNION
              SELECT least(a.account_id, b.account_id), greatest(a.account_id, b.account_id)
              FROM _st_habits a CROSS JOIN range(1, {ring + 1}) o(step)
              JOIN _st_habits b ON b.key = a.key AND b.pos = (a.pos + o.step) % a.size
              WHERE a.size > {dense} AND o.step < a.size),
            shared AS (
              SELECT p.account_a, p.account_b, ha.key, ha.rarity, ha.evidence_id AS ev_a, hb.evidence_id AS ev_b
              FROM pairs p
              JOIN _st_habits ha ON ha.account_id = p.account_a
              JOIN _st_habits hb ON hb.account_id = p.account_b AND hb.key = ha.key AND hb.party <> ha.party)
            SELECT s.account_a, s.account_b, 1 - exp(sum(ln(1 - {scale} * s.rarity))) AS weight,
                   [arg_max(s.ev_a, s.rarity), arg_max(s.ev_b, s.rarity)] AS evidence,
                   count(*) || ' shared {self.noun} template(s); rarest ' || arg_max(s.key, s.rarity)
                     || ' (rarity ' || round(max(s.rarity), 2) || ', ' || arg_max(t.accounts, s.rarity)
                     || ' accounts): "' || left(arg_max(t.example_masked, s.rarity), 80) || '"' AS detail
            FROM shared s JOIN templates t ON t.template_id = s.key
            GROUP BY s.account_a, s.account_b""")
        db.execute("DROP TABLE IF EXISTS _st_habits")
        return out


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
              SELECT account_id, system_template AS template_id, count(*) AS n FROM request_templates
              WHERE system_template IS NOT NULL GROUP BY ALL
              UNION ALL
              SELECT account_id, user_template, count(*) FROM request_templates
              WHERE user_template IS NOT NULL GROUP BY ALL),
            top AS (SELECT account_id, arg_max(template_id, n) AS template_id, max(n) AS n FROM per GROUP BY 1),
            evidence AS (
              SELECT r.account_id, min(r.request_id, 3) AS evidence
              FROM request_templates r JOIN top p USING (account_id)
              WHERE p.template_id IN (r.system_template, r.user_template) GROUP BY 1)
            SELECT p.account_id, p.n / t.total AS value, e.evidence,
                   p.n || ' of ' || t.total || ' requests under ' || m.kind || ' template ' || p.template_id
                     || ' (' || m.accounts || ' accounts): "' || left(m.example_masked, 80) || '"' AS detail
            FROM top p JOIN totals t USING (account_id) JOIN templates m USING (template_id)
            JOIN evidence e USING (account_id)""")
