"""Building blocks shared by signals: the "accounts sharing a rare key" query, in SQL and as a sparse product."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import sparse

TIE_BITS = 20


def first_values(value: str, key: str, n: int = 3) -> str:
    """SQL aggregate: the `n` values of `value` with the smallest `key`, ties broken by a hash of the value so
    the same evidence is chosen on every run.

    `key` must be a non-negative BIGINT below 2**42 (epoch milliseconds, counts, scores scaled to 1e9). One
    BIGINT key on purpose: DuckDB's min_by(value, (key, value), n) with a struct key spilled tens of GB over
    32M requests, and list(value ORDER BY key)[1:n] ran out of memory.
    """
    return f"min_by({value}, ({key}) * {2**TIE_BITS} + (hash({value}) >> {64 - TIE_BITS})::BIGINT, {n})"


def descending(score: str) -> str:
    """A `first_values` key ordering a score in [0, 1] from the highest."""
    return f"round((1 - {score}) * 1e9)::BIGINT"


def shared_key_pairs(keyed: str, *, max_accounts: int, min_shared: int = 1, evidence: str = "key") -> str:
    """Pairs of accounts sharing at least `min_shared` keys, from `keyed(account_id, key, evidence_id)`.

    A key held by more than `max_accounts` accounts (a university NAT, an SDK's default fingerprint) links
    nobody: it says more about shared infrastructure than about coordination, and its pairs would grow with
    the square of its population. Output: account_a < account_b, shared (count of keys), n_a and n_b (keys
    per account), evidence (up to 3 of `evidence` values) and keys (up to 3 shared keys).
    """
    return f"""
WITH keyed AS (SELECT DISTINCT account_id, key, {evidence} AS ev FROM ({keyed}) WHERE key IS NOT NULL),
per_account AS (SELECT account_id, count(DISTINCT key) AS n FROM keyed GROUP BY account_id),
usable AS (SELECT key FROM keyed GROUP BY key HAVING count(DISTINCT account_id) BETWEEN 2 AND {max_accounts}),
pairs AS (
  SELECT a.account_id AS account_a, b.account_id AS account_b, count(DISTINCT a.key) AS shared,
         list(DISTINCT a.key)[1:3] AS keys, list(DISTINCT a.ev)[1:3] AS evidence
  FROM keyed a JOIN keyed b ON a.key = b.key AND a.account_id < b.account_id
  WHERE a.key IN (SELECT key FROM usable)
  GROUP BY ALL
  HAVING count(DISTINCT a.key) >= {min_shared}
)
SELECT p.*, na.n AS n_a, nb.n AS n_b
FROM pairs p JOIN per_account na ON na.account_id = p.account_a JOIN per_account nb ON nb.account_id = p.account_b
"""


def shared_key_pair_counts(
    keyed: pa.Table, *, max_accounts: int, min_shared: int = 1, min_overlap: float = 0.0, block: int = 1024
) -> pa.Table:
    """The `shared_key_pairs` result computed as a sparse matrix product, for keys with big fan-out.

    `keyed` has columns account_id, key, evidence_id (one row per distinct account and key). With M the
    account-by-key incidence matrix, M·Mᵀ counts shared keys for every pair in compiled code; a self-join in SQL
    would materialise one row per (pair, key), which for rotating proxy pools runs to tens of millions.
    The product is taken `block` accounts at a time and each block keeps only pairs with at least `min_shared`
    keys making up at least `min_overlap` of the smaller account's keys: a hydra proxy network puts most of its
    tens of thousands of accounts one or two addresses apart, and the whole product (24 GB at 32M requests)
    does not fit. Returns account_a < account_b, shared, n_a, n_b, evidence (one evidence id of account_a).
    """
    account_codes = pc.dictionary_encode(keyed.column("account_id").combine_chunks())
    key_codes = pc.dictionary_encode(keyed.column("key").combine_chunks())
    accounts = account_codes.dictionary.to_numpy(zero_copy_only=False)
    account_idx = account_codes.indices.to_numpy()
    key_idx = key_codes.indices.to_numpy()
    holders = np.bincount(key_idx, minlength=len(key_codes.dictionary))
    usable = (holders >= 2) & (holders <= max_accounts)
    keep = usable[key_idx]
    m = sparse.csr_matrix(
        (np.ones(int(keep.sum()), dtype=np.int32), (account_idx[keep], key_idx[keep])),
        shape=(len(accounts), len(key_codes.dictionary)),
    )
    m.data[:] = 1  # duplicates (same account and key twice) count once
    per_account = np.bincount(account_idx, minlength=len(accounts))
    mt = m.T.tocsc()
    parts: list[tuple[np.ndarray, ...]] = [(np.zeros(0, np.int64),) * 3]
    for lo in range(0, len(accounts), block):
        chunk = (m[lo : lo + block] @ mt).tocoo()
        row = chunk.row + lo
        smaller = np.minimum(per_account[row], per_account[chunk.col])
        mask = (chunk.col > row) & (chunk.data >= min_shared) & (chunk.data >= min_overlap * smaller)
        parts.append((row[mask], chunk.col[mask], chunk.data[mask]))
    a, b, n = (np.concatenate(x) for x in zip(*parts, strict=True))
    rank = np.empty(len(accounts), np.int64)  # codes follow first appearance; pairs are ordered by account id
    rank[np.argsort(accounts)] = np.arange(len(accounts))
    swap = rank[a] > rank[b]
    a, b = np.where(swap, b, a), np.where(swap, a, b)
    evidence = keyed.column("evidence_id").to_numpy(zero_copy_only=False)
    first_evidence = np.empty(len(accounts), dtype=object)
    first_evidence[account_idx[::-1]] = evidence[::-1]
    return pa.table(
        {
            "account_a": pa.array(accounts[a], pa.string()),
            "account_b": pa.array(accounts[b], pa.string()),
            "shared": pa.array(n, pa.int64()),
            "n_a": pa.array(per_account[a], pa.int64()),
            "n_b": pa.array(per_account[b], pa.int64()),
            "evidence": pa.array([[e] for e in first_evidence[a]], pa.list_(pa.string())),
        }
    )
