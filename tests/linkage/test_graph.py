"""Linkage on hand-made pair signals: dense cells hold together, weakly attached accounts stay out."""

from __future__ import annotations

import itertools

import pyarrow as pa
import pytest

from distillguard.detect.tables import reset
from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.linkage.graph import combine_pair_signals, link_accounts


def _store(pairs: list[tuple[str, str, str, float]]) -> DuckDBAPI:
    db = DuckDBAPI()
    reset(db)
    db.register(
        "p",
        pa.table(
            {
                "account_a": [p[0] for p in pairs],
                "account_b": [p[1] for p in pairs],
                "signal": [p[2] for p in pairs],
                "weight": [p[3] for p in pairs],
            }
        ),
    )
    db.execute("INSERT INTO pair_signals SELECT account_a, account_b, signal, 'test', weight, [], 'd' FROM p")
    return db


def _clusters(db: DuckDBAPI) -> dict[str, str]:
    return {r["account_id"]: r["cluster_id"] for r in db.query("SELECT * FROM account_clusters").to_pylist()}


def test_dense_cell_is_one_cluster_and_a_nat_neighbour_is_left_out() -> None:
    cell = [f"c{i}" for i in range(8)]
    pairs = [(a, b, "shared_payment", 1.0) for a, b in itertools.combinations(cell, 2)]
    pairs.append(("c0", "student", "shared_addresses", 0.6))  # one strong-enough edge, but only one
    db = _store(pairs)
    link_accounts(db)
    clusters = _clusters(db)
    assert {clusters[a] for a in cell} == {clusters["c0"]}
    assert clusters.get("student") != clusters["c0"]


def test_weak_links_alone_do_not_cluster_but_independent_ones_combine() -> None:
    db = _store(
        [
            ("a", "b", "shared_client_fingerprint", 0.3),  # below min_edge alone
            ("c", "d", "shared_client_fingerprint", 0.3),
            ("c", "d", "signup_burst", 0.3),  # noisy-or: 1 - 0.7 * 0.7 = 0.51
        ]
    )
    link_accounts(db)
    clusters = _clusters(db)
    assert "a" not in clusters and "b" not in clusters
    assert clusters["c"] == clusters["d"]
    link = db.query("SELECT weight, signals FROM account_links WHERE account_a = 'c'").to_pylist()[0]
    assert link["weight"] == pytest.approx(0.51)
    assert link["signals"] == ["shared_client_fingerprint", "signup_burst"]


def test_two_cells_joined_by_one_edge_stay_two_clusters() -> None:
    left, right = [f"l{i}" for i in range(6)], [f"r{i}" for i in range(6)]
    pairs = [(a, b, "shared_payment", 1.0) for cell in (left, right) for a, b in itertools.combinations(cell, 2)]
    pairs.append(("l0", "r0", "shared_addresses", 0.6))
    db = _store(pairs)
    link_accounts(db)
    clusters = _clusters(db)
    assert len({clusters[a] for a in left}) == 1 and len({clusters[a] for a in right}) == 1
    assert clusters["l0"] != clusters["r0"]
    sizes = {r["cluster_size"] for r in db.query("SELECT cluster_size FROM account_clusters").to_pylist()}
    assert sizes == {6}


def test_pair_signals_combined_in_slices_give_the_same_links() -> None:
    accounts = [f"a{i:02d}" for i in range(12)]
    pairs = [(a, b, "shared_payment", 0.4) for a, b in itertools.combinations(accounts, 2)]
    pairs += [(a, b, "signup_burst", 0.5) for a, b in itertools.combinations(accounts[:6], 2)]
    db = _store(pairs)
    combine_pair_signals(db)
    whole = db.query("SELECT * FROM account_links ORDER BY account_a, account_b").to_pylist()
    combine_pair_signals(db, pairs_per_slice=7)  # 81 pair signals: 12 slices
    sliced = db.query("SELECT * FROM account_links ORDER BY account_a, account_b").to_pylist()
    assert len(whole) == 66
    assert sliced == whole
