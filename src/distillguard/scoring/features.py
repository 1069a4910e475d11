"""The feature matrix the scorer reads: one row per account, one column per account signal, plus the
account's cluster (size, density, kinds of links, how much of its traffic comes from one verified organisation)
and the cluster's mean of each signal.

Cluster means carry the campaign-level evidence onto every member: one account of a harvesting cell may look
ordinary on its own (a reseller mixes in its customers' traffic), but the cell it is linked into does not.
The verified-organisation share carries the opposite evidence: forty linked accounts running a benchmark
harness around the clock look like a cell, but they are one verified customer, which a campaign's throwaway
accounts are not. It is a share of requests, not of accounts, so a few light accounts that hang on to the
cluster by a weak link (the same SDK version) do not dilute it.

A signal that is silent on every account (its input is not in this store, e.g. no accounts file) is left out
of the matrix, so the scorer holds it at its training mean: no input is no evidence either way.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from distillguard.engines.base import DatabaseAPI, sql_literal

CLUSTER_COLUMNS = ("cluster_size_log", "cluster_density", "cluster_link_kinds", "cluster_verified_org_share")


def feature_names(signal_names: list[str]) -> list[str]:
    """Column order of the feature matrix for these account signals."""
    return [*signal_names, *CLUSTER_COLUMNS, *(f"cluster_mean:{s}" for s in signal_names)]


def build_features(db: DatabaseAPI, signal_names: list[str]) -> tuple[list[str], np.ndarray, list[str]]:
    """(account ids, matrix, column names). Signal values go through log1p (volumes are heavy-tailed; shares
    and ratios in [0, 1] are nearly unchanged); an account a signal says nothing about gets 0. Columns of
    signals silent on every account are left out (see the module docstring)."""
    pivots = ",\n".join(
        f'ln(1 + greatest(0, coalesce(max(s.value) FILTER (WHERE s.signal = {sql_literal(n)}), 0))) AS "{n}"'
        for n in signal_names
    )
    means = ",\n".join(
        f'coalesce(avg(f."{n}") OVER (PARTITION BY c.cluster_id), f."{n}") AS "cluster_mean:{n}"' for n in signal_names
    )
    select_signals = ", ".join(f'f."{n}"' for n in signal_names)
    db.execute(f"""
        CREATE OR REPLACE TABLE account_features AS
        WITH traffic AS (SELECT account_id, count(*) AS requests FROM events GROUP BY account_id),
        f AS (
          SELECT a.account_id{"," if pivots else ""} {pivots}
          FROM traffic a
          LEFT JOIN account_signals s USING (account_id)
          GROUP BY a.account_id
        ),
        -- A reseller's seats serve unrelated customers, so its organisation vouches for none of them.
        members AS (
          SELECT t.account_id, t.requests, coalesce(c.cluster_id, 'solo:' || t.account_id) AS group_id, a.org_id,
                 coalesce(a.verified AND a.org_id IS NOT NULL AND a.account_type IS DISTINCT FROM 'reseller', false)
                   AS vouched
          FROM traffic t LEFT JOIN account_clusters c USING (account_id) LEFT JOIN accounts a USING (account_id)
        ),
        verified_org AS (
          SELECT group_id, max(n) / sum(size) AS share
          FROM (SELECT group_id, org_id, coalesce(sum(requests) FILTER (WHERE vouched), 0) AS n, sum(requests) AS size
                FROM members GROUP BY ALL)
          GROUP BY group_id
        )
        SELECT f.account_id{", " + select_signals if select_signals else ""},
               ln(coalesce(c.cluster_size, 1)) AS cluster_size_log,
               coalesce(c.cluster_density, 0) AS cluster_density,
               coalesce(c.cluster_link_kinds, 0)::DOUBLE AS cluster_link_kinds,
               v.share::DOUBLE AS cluster_verified_org_share{"," if means else ""}
               {means}
        FROM f LEFT JOIN account_clusters c USING (account_id)
        JOIN members m USING (account_id) JOIN verified_org v USING (group_id)
        ORDER BY f.account_id""")
    names = _informative(db, feature_names(signal_names))
    table: pa.Table = db.query("SELECT * FROM account_features ORDER BY account_id")
    ids = table.column("account_id").to_pylist()
    matrix = (
        np.column_stack([table.column(n).to_numpy(zero_copy_only=False).astype(float) for n in names])
        if ids
        else np.zeros((0, len(names)))
    )
    return ids, np.nan_to_num(matrix), names


def _informative(db: DatabaseAPI, names: list[str]) -> list[str]:
    """`names` without the columns whose input this store lacks (see the module docstring)."""
    speaking = {r["signal"] for r in db.query("SELECT DISTINCT signal FROM account_signals").to_pylist()}
    if db.scalar("SELECT count(*) FROM accounts WHERE verified IS NOT NULL"):
        speaking.add("cluster_verified_org_share")
    always = set(CLUSTER_COLUMNS) - {"cluster_verified_org_share"}
    return [n for n in names if n in always or n.removeprefix("cluster_mean:") in speaking]
