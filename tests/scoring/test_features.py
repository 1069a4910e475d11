"""The feature matrix on a hand-made store: the verified-organisation share of a cluster, and silent inputs."""

from __future__ import annotations

import pyarrow as pa

from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.scoring.features import build_features
from distillguard.store.schema import create_tables


def _store(accounts: list[dict]) -> DuckDBAPI:
    db = DuckDBAPI()
    create_tables(db)
    # a1 sends 7 requests, every other account one.
    ids = [f"a{i}" for i in range(7)] + ["a1"] * 6
    db.register("ids", pa.table({"account_id": ids}))
    db.execute("""
        INSERT INTO events BY NAME
        SELECT account_id || '-r' || row_number() OVER () AS request_id, TIMESTAMP '2026-02-02' AS ts, account_id,
               'native' AS source_format, 't' AS source_file, 1 AS source_line, 't' AS ingest_run_id FROM ids""")
    if accounts:
        db.register("rows", pa.Table.from_pylist(accounts))
        db.execute(
            "INSERT INTO accounts BY NAME SELECT *, 't' AS source_file, 1 AS source_line, 't' AS ingest_run_id "
            "FROM rows"
        )
    # Cluster 1: four accounts; cluster 2: a0 is alone.
    db.execute("""CREATE TABLE account_clusters AS SELECT * FROM (VALUES
        ('a1', 'cl_1', 4, 1.0, 2), ('a2', 'cl_1', 4, 1.0, 2), ('a3', 'cl_1', 4, 1.0, 2), ('a4', 'cl_1', 4, 1.0, 2),
        ('a5', 'cl_2', 2, 1.0, 1), ('a6', 'cl_2', 2, 1.0, 1))
        t(account_id, cluster_id, cluster_size, cluster_density, cluster_link_kinds)""")
    db.execute("CREATE TABLE account_signals (account_id VARCHAR, signal VARCHAR, value DOUBLE)")
    db.execute("INSERT INTO account_signals VALUES ('a1', 'volume', 5.0)")
    return db


def _column(db: DuckDBAPI, signals: list[str], name: str) -> dict[str, float] | None:
    ids, x, names = build_features(db, signals)
    return dict(zip(ids, x[:, names.index(name)], strict=True)) if name in names else None


def test_verified_org_share_is_the_clusters_traffic_from_verified_members_of_one_org() -> None:
    accounts = [
        {"account_id": "a0", "verified": True, "org_id": "solo-co", "account_type": "enterprise"},
        {"account_id": "a1", "verified": True, "org_id": "o1", "account_type": "enterprise"},
        {"account_id": "a2", "verified": True, "org_id": "o1", "account_type": "enterprise"},
        {"account_id": "a3", "verified": False, "org_id": "o1", "account_type": "enterprise"},  # not vouched for
        {"account_id": "a4", "verified": True, "org_id": "o2", "account_type": "enterprise"},  # another org
        # A reseller's organisation vouches for none of its seats.
        {"account_id": "a5", "verified": True, "org_id": "resell", "account_type": "reseller"},
        {"account_id": "a6", "verified": True, "org_id": "resell", "account_type": "reseller"},
    ]
    share = _column(_store(accounts), ["volume"], "cluster_verified_org_share")
    # Cluster 1 sends 10 requests; org o1's verified members a1 and a2 send 8 of them.
    assert share == {"a0": 1.0, "a1": 0.8, "a2": 0.8, "a3": 0.8, "a4": 0.8, "a5": 0.0, "a6": 0.0}


def test_inputs_missing_from_the_store_leave_their_columns_out() -> None:
    db = _store([])  # no accounts file: nothing says who is verified
    ids, _, names = build_features(db, ["volume", "silent_signal"])
    assert "cluster_verified_org_share" not in names
    assert "silent_signal" not in names and "cluster_mean:silent_signal" not in names
    assert {"volume", "cluster_mean:volume", "cluster_size_log"} <= set(names)
    assert len(ids) == 7
