"""The feature matrix the scorer reads: one row per account, one column per account signal, plus the
account's cluster (size, density, kinds of links) and the cluster's mean of each signal.

Cluster means carry the campaign-level evidence onto every member: one account of a harvesting cell may look
ordinary on its own (a reseller mixes in its customers' traffic), but the cell it is linked into does not.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from distillguard.engines.base import DatabaseAPI, sql_literal

CLUSTER_COLUMNS = ("cluster_size_log", "cluster_density", "cluster_link_kinds")


def feature_names(signal_names: list[str]) -> list[str]:
    """Column order of the feature matrix for these account signals."""
    return [*signal_names, *CLUSTER_COLUMNS, *(f"cluster_mean:{s}" for s in signal_names)]


def build_features(db: DatabaseAPI, signal_names: list[str]) -> tuple[list[str], np.ndarray, list[str]]:
    """(account ids, matrix, column names). Signal values go through log1p (volumes are heavy-tailed; shares
    and ratios in [0, 1] are nearly unchanged); an account a signal says nothing about gets 0."""
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
        WITH f AS (
          SELECT a.account_id{"," if pivots else ""} {pivots}
          FROM (SELECT DISTINCT account_id FROM events) a
          LEFT JOIN account_signals s USING (account_id)
          GROUP BY a.account_id
        )
        SELECT f.account_id{", " + select_signals if select_signals else ""},
               ln(coalesce(c.cluster_size, 1)) AS cluster_size_log,
               coalesce(c.cluster_density, 0) AS cluster_density,
               coalesce(c.cluster_link_kinds, 0)::DOUBLE AS cluster_link_kinds{"," if means else ""}
               {means}
        FROM f LEFT JOIN account_clusters c USING (account_id)
        ORDER BY f.account_id""")
    names = feature_names(signal_names)
    table: pa.Table = db.query("SELECT * FROM account_features ORDER BY account_id")
    ids = table.column("account_id").to_pylist()
    matrix = (
        np.column_stack([table.column(n).to_numpy(zero_copy_only=False).astype(float) for n in names])
        if ids
        else np.zeros((0, len(names)))
    )
    return ids, np.nan_to_num(matrix), names
