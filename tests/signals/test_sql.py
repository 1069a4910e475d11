"""The sparse shared-key pair counter: blocks change memory, never the answer."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from distillguard.signals.sql import shared_key_pair_counts


def _keyed(seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    rows = {(f"acct_{rng.integers(60):02d}", f"10.0.0.{rng.integers(40)}") for _ in range(600)}
    ordered = sorted(rows)
    accounts, keys = zip(*[ordered[i] for i in rng.permutation(len(ordered))], strict=True)  # as SQL returns them
    return pa.table({"account_id": accounts, "key": keys, "evidence_id": [f"r{i}" for i in range(len(rows))]})


def _pairs(table: pa.Table) -> set[tuple[str, str, int]]:
    return set(zip(*(table.column(c).to_pylist() for c in ("account_a", "account_b", "shared")), strict=True))


def test_blockwise_product_equals_the_whole_product() -> None:
    keyed = _keyed(1)
    whole = _pairs(shared_key_pair_counts(keyed, max_accounts=100, min_shared=2, block=10_000))
    assert whole
    for block in (1, 7, 64):
        assert _pairs(shared_key_pair_counts(keyed, max_accounts=100, min_shared=2, block=block)) == whole


def test_overlap_floor_keeps_only_pairs_sharing_that_share_of_the_smaller_set() -> None:
    keyed = _keyed(2)
    every = shared_key_pair_counts(keyed, max_accounts=100, min_shared=1)
    strong = shared_key_pair_counts(keyed, max_accounts=100, min_shared=1, min_overlap=0.5)
    expected = {
        (a, b, n)
        for a, b, n, na, nb in zip(
            *(every.column(c).to_pylist() for c in ("account_a", "account_b", "shared", "n_a", "n_b")), strict=True
        )
        if n >= 0.5 * min(na, nb)
    }
    assert _pairs(strong) == expected
    assert 0 < len(expected) < every.num_rows
    assert all(a < b for a, b, _ in _pairs(strong))
