"""Synchrony (after SynchroTrap): accounts whose time-bucketed activity moves together.

A load balancer dealing one harvest round-robin over a cell of accounts makes them busy in the same short
windows, hour after hour, including the hours the cell pauses. Each account becomes the set of time buckets
it sent a request in; two accounts are linked when the Jaccard similarity of their sets is high *and* well
above what their own daily routines predict:

- Candidates come from MinHash-LSH over the bucket sets (`distillguard.templates.minhash`), so work grows with
  the number of accounts, not pairs; an LSH bucket shared by more than `max_bucket` accounts is skipped
  (it holds sets that are all alike, like saturated always-on services, and no pair in it is informative).
- Candidates get their exact Jaccard J from per-account bitsets.
- Chance: each account's hour-of-day profile q(h) (the share of its active days on which it is active in a
  given bucket at hour h) predicts, for independent accounts, E = shared_days · buckets_per_hour ·
  Σ_h q_a(h) q_b(h) shared buckets, where shared_days counts days both were active; hence an expected
  Jaccard J0 = E / (|A| + |B| - E). The weight is the excess (J - J0) / (1 - J0): office workers in one
  time zone, or two always-on services, overlap about as much as their routines predict and get ~0.
- Accounts with fewer than `min_buckets` active buckets say too little; accounts active in more than
  `max_fill` of the buckets of their active days are saturated at that resolution and say nothing.

Resolutions (`bucket_minutes`, each dividing 60): a fine one catches busy cells whose round-robin puts
neighbouring accounts seconds apart; a coarse one catches slow cells, whose accounts share the hours the
cell runs and pauses. A pair keeps the strongest resolution. The SynchroTrap paper also keys actions by
network; here infrastructure signals cover addresses, so buckets stay plain time.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from distillguard.signals.base import PAIR_RESULT, DetectionContext, PairSignal
from distillguard.signals.registry import register
from distillguard.templates.minhash import band_keys, bucket_pairs, signatures

_TEMPS = ("_sync_base", "_sync_b", "_sync_acc", "_sync_sets", "_sync_hours", "_sync_scored", "_sync_out")


@register
class SynchronisedActivity(PairSignal):
    name = "synchronised_activity"
    family = "synchrony"
    description = "accounts active in the same time buckets far beyond what their daily routines predict"

    def compute(self, ctx: DetectionContext) -> pa.Table:
        db = ctx.db
        db.execute("""
            CREATE OR REPLACE TEMP TABLE _sync_out (
                account_a VARCHAR, account_b VARCHAR, weight DOUBLE, evidence VARCHAR[], detail VARCHAR)""")
        resolutions = [int(m) for m in ctx.setting(f"{self.name}.bucket_minutes", (5, 30))]
        if any(60 % m for m in resolutions):
            raise ValueError(f"{self.name}.bucket_minutes must divide 60, got {resolutions}")
        # One pass over events at the finest common bucket; coarser buckets are rolled up from it.
        base = math.gcd(*resolutions)
        db.execute(f"""
            CREATE OR REPLACE TEMP TABLE _sync_base AS
            SELECT account_id, epoch_ms(ts) // {base * 60_000} AS b, min(request_id) AS request_id
            FROM events GROUP BY ALL""")
        for minutes in resolutions:
            self._resolution(ctx, minutes, minutes // base)
        out = db.query("""
            SELECT account_a, account_b, max(weight) AS weight, arg_max(evidence, weight) AS evidence,
                   arg_max(detail, weight) AS detail
            FROM _sync_out GROUP BY account_a, account_b""")
        for table in _TEMPS:
            db.execute(f"DROP TABLE IF EXISTS {table}")
        return out.select(PAIR_RESULT.names)

    def _resolution(self, ctx: DetectionContext, minutes: int, factor: int) -> None:
        """Append to `_sync_out` the synchronised pairs at one bucket size (`factor` base buckets)."""
        db, s = ctx.db, self.name
        min_buckets = int(ctx.setting(f"{s}.min_buckets", 24))
        max_fill = float(ctx.setting(f"{s}.max_fill", 0.9))
        bands, rows = int(ctx.setting(f"{s}.bands", 25)), int(ctx.setting(f"{s}.rows", 5))
        per_day = 24 * 60 // minutes
        db.execute(f"""
            CREATE OR REPLACE TEMP TABLE _sync_b AS
            SELECT DISTINCT account_id, b // {factor} AS b FROM _sync_base""")
        db.execute(f"""
            CREATE OR REPLACE TEMP TABLE _sync_acc AS
            SELECT row_number() OVER (ORDER BY account_id) - 1 AS idx, account_id, count(*) AS n,
                   count(DISTINCT b // {per_day}) AS days
            FROM _sync_b GROUP BY account_id
            HAVING count(*) >= {min_buckets} AND count(*) <= {max_fill} * count(DISTINCT b // {per_day}) * {per_day}""")
        db.execute("""
            CREATE OR REPLACE TEMP TABLE _sync_sets AS
            SELECT a.idx, list(hash(s.b)) AS h FROM _sync_b s JOIN _sync_acc a USING (account_id) GROUP BY a.idx""")
        n = int(db.scalar("SELECT count(*) FROM _sync_acc") or 0)
        batch = int(ctx.setting(f"{s}.batch", 20_000))
        sig = np.zeros((n, bands * rows), dtype=np.uint32)
        for lo in range(0, n, batch):
            sets = db.query(f"SELECT h FROM _sync_sets WHERE idx >= {lo} AND idx < {lo + batch} ORDER BY idx")
            sig[lo : lo + sets.num_rows] = signatures(sets.column("h"), bands * rows, minutes)
        a, b = bucket_pairs(band_keys(sig, rows), int(ctx.setting(f"{s}.max_bucket", 500)))
        if not len(a):
            return
        _score(ctx, a, b, minutes, factor, s)


def _score(ctx: DetectionContext, a: np.ndarray, b: np.ndarray, minutes: int, factor: int, s: str) -> None:
    """Append to `_sync_out` the candidates (account indexes a < b) whose exact Jaccard and chance-corrected
    weight pass `min_jaccard` and `min_weight` (settings under the signal's name `s`)."""
    db = ctx.db
    per_hour, per_day = 60 // minutes, 24 * 60 // minutes
    min_jaccard = float(ctx.setting(f"{s}.min_jaccard", 0.5))
    min_weight = float(ctx.setting(f"{s}.min_weight", 0.3))
    lo, hi = (
        db.query("SELECT min(b), max(b) FROM _sync_b WHERE account_id IN (SELECT account_id FROM _sync_acc)")
        .to_pylist()[0]
        .values()
    )
    db.execute(f"""
        CREATE OR REPLACE TEMP TABLE _sync_hours AS
        WITH counts AS (
          SELECT a.idx, (s.b % {per_day}) // {per_hour} AS hour, count(*) AS c
          FROM _sync_b s JOIN _sync_acc a USING (account_id) GROUP BY ALL)
        SELECT a.idx, list(coalesce(c.c, 0) / a.days / {per_hour} ORDER BY r.hour) AS q
        FROM _sync_acc a CROSS JOIN range(24) r(hour) LEFT JOIN counts c ON c.idx = a.idx AND c.hour = r.hour
        GROUP BY a.idx""")
    db.register("_sync_cand", pa.table({"a": a, "b": b}))
    db.execute(f"""
        CREATE OR REPLACE TEMP TABLE _sync_scored AS
        WITH members AS (SELECT a AS idx FROM _sync_cand UNION SELECT b FROM _sync_cand),
        bits AS (
          SELECT a.idx, bitstring_agg(s.b - {lo}, 0, {hi - lo}) AS bits,
                 bitstring_agg(s.b // {per_day} - {lo // per_day}, 0, {hi // per_day - lo // per_day}) AS days
          FROM _sync_b s JOIN _sync_acc a USING (account_id) WHERE a.idx IN (SELECT idx FROM members)
          GROUP BY a.idx),
        scored AS (
          SELECT c.a, c.b, bit_count(x.bits & y.bits) AS inter, bit_count(x.bits | y.bits) AS uni,
                 bit_count(x.days & y.days) AS shared_days,
                 bit_position('1'::BIT, x.bits & y.bits) - 1 + {lo} AS first_shared
          FROM _sync_cand c JOIN bits x ON x.idx = c.a JOIN bits y ON y.idx = c.b),
        chance AS (
          SELECT s.*, aa.account_id AS id_a, ab.account_id AS id_b, s.inter / s.uni AS j,
                 s.shared_days * {per_hour} * list_dot_product(ha.q, hb.q) AS expected, aa.n + ab.n AS sizes
          FROM scored s
          JOIN _sync_acc aa ON aa.idx = s.a JOIN _sync_acc ab ON ab.idx = s.b
          JOIN _sync_hours ha ON ha.idx = s.a JOIN _sync_hours hb ON hb.idx = s.b
          WHERE s.inter >= {min_jaccard} * s.uni)
        SELECT id_a, id_b, inter, uni, j, j0, (j - j0) / (1 - j0) AS weight, first_shared
        FROM (SELECT *, least(expected / (sizes - expected), 0.999) AS j0 FROM chance)
        WHERE (j - j0) / (1 - j0) >= {min_weight}""")
    db.unregister("_sync_cand")
    # Evidence: a request of each account in the first bucket the two share.
    db.execute(f"""
        INSERT INTO _sync_out
        WITH first_requests AS (
          SELECT account_id, b // {factor} AS b, min(request_id) AS request_id FROM _sync_base
          WHERE account_id IN (SELECT id_a FROM _sync_scored UNION SELECT id_b FROM _sync_scored) GROUP BY ALL)
        SELECT w.id_a, w.id_b, w.weight, [ea.request_id, eb.request_id],
               'active together in ' || w.inter || ' of ' || w.uni || ' {minutes}-minute buckets (Jaccard '
                 || round(w.j, 2) || '; ' || round(w.j0, 2) || ' expected from their hours of activity)'
        FROM _sync_scored w
        JOIN first_requests ea ON ea.account_id = w.id_a AND ea.b = w.first_shared
        JOIN first_requests eb ON eb.account_id = w.id_b AND eb.b = w.first_shared""")
