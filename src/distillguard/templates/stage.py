"""The template stage: label every request with the system-prompt template and user-prompt template it uses.

A template is a cluster of near-duplicate masked texts: system prompts as written (minus variable values),
user prompts reduced to their frame (`masking`). Work is on distinct texts, never on requests: a store holds
far fewer distinct system prompts and templated user prompts than requests, and each distinct text is read
once, masked in SQL, MinHashed in batches and clustered with LSH (`minhash`). Requests are then labelled
with one join.

Writes:
- `request_templates(request_id, account_id, system_template, user_template)`: NULL where a request has no
  system prompt, or its first user message fits no template (a one-off prompt with no recurring frame and
  no near-duplicate: most ordinary prompts).
- `templates(template_id, kind, accounts, requests, example_masked, signature, framed)`: one row per template
  in use. `signature` is a rensa `RMinHash` (`SIGNATURE_PERM` permutations, seed `SIGNATURE_SEED`) of the word
  bigrams of the template text, little-endian uint32s: shareable as an indicator, since it holds no prompt
  text and another party can compute the same from its own masked prompts. `framed` is true for a user
  template that wraps a content slot (`<*>`), false for one recurring whole prompt and for system prompts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from rensa import RMinHash

from distillguard.engines.base import DatabaseAPI, sql_literal
from distillguard.templates.masking import blank_sql, flat_sql, mask_sql, segments_sql, shingles_sql, words_sql
from distillguard.templates.minhash import band_keys, components, estimated_jaccard, signatures, star_edges

SIGNATURE_PERM = 128
SIGNATURE_SEED = 20_260_201
EXAMPLE_CHARS = 300


@dataclass(frozen=True)
class TemplateConfig:
    """Knobs of the template stage; the defaults are argued in docs/detection.md ("Templates and synchrony").

    threshold: Jaccard similarity of word-bigram sets at which two masked texts are one template. 0.7 keeps
      a prompt with a word or two edited (or re-laid-out as bullets) with its original, and keeps apart
      prompts that only share an opening ("You are a helpful assistant." vs "... coding assistant.").
    bands, rows: LSH banding of a bands*rows signature; the S-curve's midpoint (1/bands)^(1/rows) ≈ 0.61
      sits below `threshold` so pairs at 0.7 are found with probability ≈ 0.92; candidates are then checked
      against `threshold` on the signature, so the lower midpoint costs only checks.
    window: how many leading and trailing segments of a user prompt can belong to its frame.
    min_support, min_support_share: a segment is fixed when it recurs in at least this many distinct
      prompts (and this share of them): a wrapper recurs with every prompt it wraps, content only with the
      few wrappers it was pasted into.
    continuation: a frame run stops at a segment less than this share as common as the one before it.
    max_words: words of a text that are shingled (a template shows itself in its first few hundred words).
    batch: distinct texts MinHashed per batch (bounds memory on stores with millions of distinct prompts).
    """

    threshold: float = 0.7
    bands: int = 20
    rows: int = 6
    seed: int = 7
    window: int = 3
    min_support: int = 50
    min_support_share: float = 0.0005
    continuation: float = 0.5
    max_words: int = 256
    batch: int = 50_000


def label_templates(db: DatabaseAPI, config: TemplateConfig | None = None) -> None:
    """Write `request_templates` and `templates` from `events` (replacing earlier ones)."""
    config = config or TemplateConfig()
    # One scan of the prompt columns: every later step works on 64-bit text keys and distinct texts.
    db.execute(f"""
        CREATE OR REPLACE TEMP TABLE _tpl_keys AS
        SELECT request_id, account_id, {_key("system_prompt")} AS sys_key, {_key("first_user_message")} AS user_key
        FROM events""")
    _system_sources(db)
    _user_sources(db, config)
    metas = [_cluster(db, "_tpl_sys_src", "system", config), _cluster(db, "_tpl_user_src", "user", config)]
    db.register("_tpl_meta", pa.concat_tables(metas))
    db.execute("""
        CREATE OR REPLACE TABLE request_templates AS
        SELECT k.request_id, k.account_id, s.template_id AS system_template, u.template_id AS user_template
        FROM _tpl_keys k
        LEFT JOIN _tpl_system_map s ON s.text_key = k.sys_key
        LEFT JOIN _tpl_user_map u ON u.text_key = k.user_key""")
    db.execute("""
        CREATE OR REPLACE TABLE templates AS
        WITH per_account AS (
          SELECT system_template AS template_id, account_id, count(*) AS n FROM request_templates
          WHERE system_template IS NOT NULL GROUP BY ALL
          UNION ALL
          SELECT user_template, account_id, count(*) FROM request_templates
          WHERE user_template IS NOT NULL GROUP BY ALL)
        SELECT m.template_id, m.kind, count(*) AS accounts, sum(p.n)::BIGINT AS requests, m.example_masked, m.signature,
               m.framed
        FROM _tpl_meta m JOIN per_account p USING (template_id)
        GROUP BY ALL""")
    db.unregister("_tpl_meta")
    for table in (
        "_tpl_keys",
        "_tpl_sys_src",
        "_tpl_user_docs",
        "_tpl_ends",
        "_tpl_fixed",
        "_tpl_user_src",
        "_tpl_docs",
        "_tpl_system_map",
        "_tpl_user_map",
    ):
        db.execute(f"DROP TABLE IF EXISTS {table}")


def _key(column: str) -> str:
    """SQL: the 64-bit key of a prompt text, NULL when there is no text to template."""
    return f"CASE WHEN regexp_matches({column}, '\\S') THEN hash({column}) END"


def _distinct(column: str) -> str:
    """SQL: each distinct text of an events column with its key and request count (grouped on the key, which
    is several times faster than grouping long strings)."""
    return f"""
        SELECT {_key(column)} AS text_key, count(*) AS requests, any_value({column}) AS text
        FROM events WHERE regexp_matches({column}, '\\S') GROUP BY 1"""


def _system_sources(db: DatabaseAPI) -> None:
    """Distinct system prompts, masked; a system prompt is its own template text (no frame)."""
    db.execute(f"""
        CREATE OR REPLACE TEMP TABLE _tpl_sys_src AS
        SELECT text_key, requests, {flat_sql(mask_sql("text"))} AS tpl, false AS framed
        FROM ({_distinct("system_prompt")})""")


def _user_sources(db: DatabaseAPI, config: TemplateConfig) -> None:
    """Distinct first user messages, masked and reduced to their frame where they have one."""
    w = config.window
    db.execute(f"""
        CREATE OR REPLACE TEMP TABLE _tpl_user_docs AS
        SELECT text_key AS d, requests, {segments_sql(mask_sql("text"))} AS segs
        FROM ({_distinct("first_user_message")})""")
    db.execute(f"""
        CREATE OR REPLACE TEMP TABLE _tpl_ends AS
        SELECT d, k, pos, segs[pos] AS seg
        FROM (SELECT d, segs, len(segs) AS k, CASE WHEN i <= {w} THEN i ELSE len(segs) - {2 * w} + i END AS pos, i
              FROM _tpl_user_docs CROSS JOIN range(1, {2 * w + 1}) r(i))
        WHERE pos BETWEEN 1 AND k AND (i <= {w} OR pos > {w})""")
    docs = int(db.scalar("SELECT count(*) FROM _tpl_user_docs") or 0)
    support = max(config.min_support, math.ceil(config.min_support_share * docs))
    db.execute(f"""
        CREATE OR REPLACE TEMP TABLE _tpl_fixed AS
        SELECT seg, count(DISTINCT d) AS support FROM _tpl_ends GROUP BY seg HAVING count(DISTINCT d) >= {support}""")
    lag = "coalesce(lag(sup) OVER (PARTITION BY d ORDER BY pos{}), 0)"
    ok = f"sup >= {support} AND sup >= {config.continuation} * {lag}"
    db.execute(f"""
        CREATE OR REPLACE TEMP TABLE _tpl_user_src AS
        WITH s AS (
          SELECT e.d, e.k, e.pos, coalesce(f.support, 0) AS sup, {blank_sql("e.seg")} AS blank
          FROM _tpl_ends e LEFT JOIN _tpl_fixed f USING (seg)),
        head AS (
          SELECT d, pos, blank, bool_and(ok) OVER (PARTITION BY d ORDER BY pos) AS run
          FROM (SELECT d, pos, blank, {ok.format("")} AS ok FROM s WHERE pos <= {w})),
        tail AS (
          SELECT d, pos, k, blank, bool_and(ok) OVER (PARTITION BY d ORDER BY pos DESC) AS run
          FROM (SELECT d, pos, k, blank, {ok.format(" DESC")} AS ok FROM s WHERE pos > k - {w})),
        h AS (SELECT d, coalesce(max(pos) FILTER (WHERE run AND NOT blank), 0) AS h FROM head GROUP BY d),
        t AS (SELECT d, coalesce(max(k - pos + 1) FILTER (WHERE run AND NOT blank), 0) AS t FROM tail GROUP BY d),
        cut AS (
          SELECT u.d AS text_key, u.requests, u.segs, h.h, t.t, h.h + t.t > 0 AND h.h + t.t < len(u.segs) AS framed
          FROM _tpl_user_docs u JOIN h USING (d) JOIN t USING (d))
        SELECT text_key, requests, framed,
               CASE WHEN framed THEN trim(array_to_string(segs[1:h], ' ') || ' <*> '
                                          || array_to_string(segs[len(segs) - t + 1:], ' '))
                    ELSE array_to_string(segs, ' ') END AS tpl
        FROM cut""")


def _cluster(db: DatabaseAPI, source: str, kind: str, config: TemplateConfig) -> pa.Table:
    """Cluster the distinct template texts of `source` into templates; write `_tpl_{kind}_map(text_key,
    template_id)` and return the templates' (template_id, kind, example_masked, signature)."""
    db.execute(f"""
        CREATE OR REPLACE TEMP TABLE _tpl_docs AS
        SELECT row_number() OVER (ORDER BY requests DESC, tpl) - 1 AS doc, tpl, requests, texts, framed,
               {words_sql("tpl", config.max_words)} AS words
        FROM (SELECT tpl, sum(requests) AS requests, count(*) AS texts, bool_or(framed) AS framed
              FROM {source} GROUP BY tpl)""")
    n = int(db.scalar("SELECT count(*) FROM _tpl_docs") or 0)
    perm = config.bands * config.rows
    sig = np.zeros((n, perm), dtype=np.uint32)
    for lo in range(0, n, config.batch):
        batch = db.query(f"""
            SELECT list_transform({shingles_sql("words", "tpl")}, lambda s: hash(s)) AS h
            FROM _tpl_docs WHERE doc >= {lo} AND doc < {lo + config.batch} ORDER BY doc""")
        sig[lo : lo + batch.num_rows] = signatures(batch.column("h"), perm, config.seed)
    a, b = star_edges(band_keys(sig, config.rows))
    similar = estimated_jaccard(sig, a, b) >= config.threshold
    label = components(n, a[similar], b[similar])
    rep = np.full(label.max() + 1 if n else 0, n, dtype=np.int64)
    np.minimum.at(rep, label, np.arange(n))  # most-requested text of each cluster: docs are ordered by requests
    db.register("_tpl_labels", pa.table({"doc": np.arange(n), "rep": rep[label]}))
    # A user template must be a pattern (a frame, or several texts that differ only in masked values); a
    # system prompt is a template even alone, since a system prompt is written once and reused.
    valid = "true" if kind == "system" else "bool_or(d.framed) OR sum(d.texts) >= 2"
    prefix = sql_literal("sys-" if kind == "system" else "usr-")
    db.execute(f"""
        CREATE OR REPLACE TEMP TABLE _tpl_{kind}_map AS
        WITH clusters AS (
          SELECT l.rep, {prefix} || left(md5(any_value(r.tpl)), 16) AS template_id, bool_or(d.framed) AS framed
          FROM _tpl_labels l JOIN _tpl_docs d USING (doc) JOIN _tpl_docs r ON r.doc = l.rep
          GROUP BY l.rep HAVING {valid})
        SELECT s.text_key, c.template_id, c.rep, c.framed
        FROM {source} s JOIN _tpl_docs d USING (tpl) JOIN _tpl_labels l USING (doc) JOIN clusters c USING (rep)""")
    db.unregister("_tpl_labels")
    reps = db.query(f"""
        SELECT DISTINCT m.template_id, m.framed, d.tpl, {shingles_sql("d.words", "d.tpl")} AS shingles
        FROM _tpl_{kind}_map m JOIN _tpl_docs d ON d.doc = m.rep ORDER BY m.template_id""")
    shared = RMinHash.digest_matrix_from_token_sets(reps.column("shingles").to_pylist(), SIGNATURE_PERM, SIGNATURE_SEED)
    digests = np.array(shared.to_rows(), dtype="<u4").reshape(reps.num_rows, SIGNATURE_PERM)
    return pa.table(
        {
            "template_id": reps.column("template_id"),
            "kind": pa.array([kind] * reps.num_rows, pa.string()),
            "example_masked": pa.array([t[:EXAMPLE_CHARS] for t in reps.column("tpl").to_pylist()], pa.string()),
            "signature": pa.array([row.tobytes() for row in digests], pa.binary()),
            "framed": reps.column("framed").cast(pa.bool_()),
        }
    )
