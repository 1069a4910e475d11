"""SQL building blocks shared by signals."""

from __future__ import annotations


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
