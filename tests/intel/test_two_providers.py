"""Provider A shares, provider B imports: B finds and attributes the same actors in its own traffic, and none of
A's indicators touches one of B's ordinary customers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from distillguard.engines.duckdb_api import DuckDBAPI

from .conftest import PARTNER_KEY, Provider, run


def _import(b: Provider, store: Path, paths: list[Path]) -> None:
    for path in paths:
        run("import", str(path), "--partner", "provider-a", "--db", str(store), "--partner-key", PARTNER_KEY)
    run("attribute", "--db", str(store), "--partner-key", PARTNER_KEY)


def _attribution(store: Path) -> dict[str, dict]:
    with DuckDBAPI(store, read_only=True) as db:
        return {r["campaign_id"]: r for r in db.query("SELECT * FROM campaign_attribution").to_pylist()}


@pytest.fixture(scope="module")
def b_with_all(providers: dict, exports: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    b: Provider = providers["b"]
    store = b.copy(tmp_path_factory.mktemp("b-all") / "b.duckdb")
    _import(b, store, [p for (_, fmt), p in exports.items() if fmt == "stix"])
    return store


def test_b_attributes_each_of_its_campaigns_to_the_operator_a_saw(providers: dict, b_with_all: Path) -> None:
    a_actor, b_actor = providers["a"].campaign_actor(), providers["b"].campaign_actor()
    assert set(b_actor.values()) == {"A", "B", "C"}
    attribution = _attribution(b_with_all)
    for campaign, actor in b_actor.items():
        got = attribution[campaign]
        operators = {f"provider-a {c} operator" for c, a in a_actor.items() if a == actor}
        assert got["actor"] in operators, (campaign, actor, got)
        assert got["confidence"] in ("moderate", "high"), got
        assert got["partners"] == ["provider-a"]
        assert any("confirmed by partner provider-a" in r for r in got["reasons"])


def test_no_indicator_from_a_matches_an_ordinary_account_of_b(providers: dict, b_with_all: Path) -> None:
    truth = providers["b"].truth()
    with DuckDBAPI(b_with_all, read_only=True) as db:
        matches = db.query("SELECT DISTINCT account_id, actor, kind FROM intel_matches").to_pylist()
    assert len({m["account_id"] for m in matches}) >= 50
    roles = {truth[m["account_id"]]["role"] for m in matches}
    assert roles == {"campaign"}, roles
    a_actor = providers["a"].campaign_actor()
    for m in matches:  # and each match points at the right actor
        assert truth[m["account_id"]]["actor"] == a_actor[m["actor"].split()[1]], m


def test_actors_a_never_shared_stay_unknown(providers: dict, exports: dict, tmp_path: Path) -> None:
    b: Provider = providers["b"]
    a_actor, b_actor = providers["a"].campaign_actor(), b.campaign_actor()
    shared = next(c for c, a in a_actor.items() if a == "C")
    store = b.copy(tmp_path / "b.duckdb")
    _import(b, store, [exports[(shared, "misp")]])  # the MISP feed this time
    attribution = _attribution(store)
    for campaign, actor in b_actor.items():
        got = attribution[campaign]
        if actor == "C":
            assert got["actor"] == f"provider-a {shared} operator" and got["confidence"] in ("moderate", "high")
        else:
            assert (got["actor"], got["confidence"]) == ("unknown", "unknown"), got


def test_b_reshares_a_campaign_under_the_actor_it_attributed(providers: dict, b_with_all: Path, tmp_path: Path) -> None:
    """Attribution travels: B's own export names the operator A reported, marked as attributed."""
    import json

    from distillguard.intel.partners import read_intel

    campaign, got = next(iter(_attribution(b_with_all).items()))
    store = tmp_path / "b.duckdb"  # a copy: export only reads, but the module's store stays untouched
    shutil.copy(b_with_all, store)
    out = tmp_path / "b.json"
    run("export", "--campaign", campaign, "--tlp", "green", "--db", str(store), "--out", str(out), "--provider", "b")
    sets = [o for o in json.loads(out.read_text())["objects"] if o["type"] == "intrusion-set"]
    assert [(s["name"], s["x_distillguard_attributed"]) for s in sets] == [(got["actor"], True)]
    assert {actor for actor, _, _ in read_intel(out)} == {got["actor"]}
