"""From pair signals to clusters of linked accounts.

Each pair's signals combine by noisy-or (independent links reinforce each other; no single weak one decides),
pairs below `min_edge` are dropped, and the remaining weighted graph is partitioned with Leiden under the
Constant Potts Model: a cluster must be denser inside than `resolution`, so a dense campaign cell holds
together while an account hanging on by one edge (a student behind a university NAT who shares one address
with a cell) is left out. Cluster density (mean internal edge weight per member, FRAUDAR's measure) is kept
for the scorer: camouflage (a campaign account also talking like a normal customer) does not lower it.
"""

from __future__ import annotations

import igraph as ig
import leidenalg
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.engines.base import DatabaseAPI
from distillguard.signals.sql import descending, first_values

LINKS_SQL = f"""
SELECT account_a, account_b,
       1 - product(1 - least(weight, 0.99)) AS weight,
       list(DISTINCT signal ORDER BY signal) AS signals,
       {first_values("detail", descending("least(weight, 1.0)"))} AS details,
       flatten(list(evidence))[1:5] AS evidence
FROM pair_signals WHERE {{part}} GROUP BY account_a, account_b
"""
# Pair signals combined per slice of account_a: list aggregates cannot spill to disk, so one GROUP BY over all
# pairs ran out of DuckDB's memory at 32M requests (3.8M pair signals; 1M per slice fits the 1.2 GB pool). A
# pair always falls in one slice.
PAIRS_PER_SLICE = 1_000_000


def combine_pair_signals(db: DatabaseAPI, pairs_per_slice: int = PAIRS_PER_SLICE) -> None:
    """`account_links`: one row per linked pair, its signals combined by noisy-or."""
    slices = max(1, -(-int(db.scalar("SELECT count(*) FROM pair_signals") or 0) // pairs_per_slice))
    for i in range(slices):
        part = "true" if slices == 1 else f"hash(account_a) % {slices} = {i}"
        select = LINKS_SQL.format(part=part)
        db.execute(
            f"CREATE OR REPLACE TABLE account_links AS {select}" if i == 0 else f"INSERT INTO account_links {select}"
        )


def link_accounts(db: DatabaseAPI, *, min_edge: float = 0.5, resolution: float = 0.2, seed: int = 0) -> None:
    """Write `account_links` (one row per linked pair) and `account_clusters` (account_id, cluster_id,
    cluster_size, cluster_density, cluster_link_kinds) for accounts in clusters of two or more."""
    combine_pair_signals(db)
    edges = db.query(f"SELECT account_a, account_b, weight FROM account_links WHERE weight >= {min_edge}")
    clusters = _leiden(edges, resolution, seed)
    db.register("cluster_members", clusters)
    db.execute("""
        CREATE OR REPLACE TABLE account_clusters AS
        WITH members AS (SELECT * FROM cluster_members),
        sizes AS (SELECT cluster_id, count(*) AS cluster_size FROM members GROUP BY cluster_id),
        inside AS (
          SELECT ma.cluster_id, sum(l.weight) AS total_weight, list(DISTINCT s) AS kinds
          FROM account_links l
          JOIN members ma ON ma.account_id = l.account_a
          JOIN members mb ON mb.account_id = l.account_b AND mb.cluster_id = ma.cluster_id,
          unnest(l.signals) AS t(s)
          GROUP BY ma.cluster_id
        )
        SELECT m.account_id, 'cl_' || lpad(m.cluster_id::VARCHAR, 6, '0') AS cluster_id, s.cluster_size,
               coalesce(i.total_weight, 0) / s.cluster_size AS cluster_density,
               coalesce(len(i.kinds), 0) AS cluster_link_kinds
        FROM members m JOIN sizes s USING (cluster_id) LEFT JOIN inside i USING (cluster_id)
        WHERE s.cluster_size >= 2""")
    db.unregister("cluster_members")


def account_graph(edges: pa.Table) -> tuple[np.ndarray, ig.Graph]:
    """(account ids, undirected graph over them) from `edges(account_a, account_b[, weight])`."""
    a, b = edges.column("account_a"), edges.column("account_b")
    # Hash-based in Arrow: sorting a million Python strings (np.unique) took seconds.
    ids = pc.unique(pa.chunked_array(a.chunks + b.chunks, pa.string()))
    ends = np.stack([pc.index_in(a, ids).to_numpy(), pc.index_in(b, ids).to_numpy()], axis=1)
    order = pc.sort_indices(ids)  # vertices in account order, so results do not depend on edge order
    names = ids.take(order).to_numpy(zero_copy_only=False)
    rank = np.empty(len(ids), np.int64)
    rank[order.to_numpy()] = np.arange(len(ids))
    graph = ig.Graph(n=len(names), edges=rank[ends], directed=False)
    if "weight" in edges.column_names:
        graph.es["weight"] = edges.column("weight").to_numpy()
    return names, graph


def _leiden(edges: pa.Table, resolution: float, seed: int) -> pa.Table:
    """Cluster ids per account (accounts without strong edges are absent)."""
    names, graph = account_graph(edges)
    if len(names) == 0:
        return pa.table({"account_id": pa.array([], pa.string()), "cluster_id": pa.array([], pa.int64())})
    partition = leidenalg.find_partition(
        graph, leidenalg.CPMVertexPartition, weights="weight", resolution_parameter=resolution, seed=seed
    )
    return pa.table(
        {"account_id": pa.array(names, pa.string()), "cluster_id": pa.array(partition.membership, pa.int64())}
    )
