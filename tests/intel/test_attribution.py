"""The actor registry, the confidence rule table, and keyed-hash matching."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.intel.actors import _assess
from distillguard.intel.partners import read_intel

from .conftest import PARTNER_KEY, Provider, run


def _row(family: str, n: int, source: str = "registry", source_type: str = "registry") -> dict:
    return {"family": family, "n": n, "source": source, "source_type": source_type, "evidence": [f"{family} x{n}"]}


@pytest.mark.parametrize(
    ("rows", "level"),
    [
        ([], "unknown"),
        ([_row("infrastructure", 1)], "unknown"),  # one shared address is a coincidence, not an actor
        ([_row("infrastructure", 2)], "low"),
        ([_row("template", 3)], "low"),
        ([_row("infrastructure", 5), _row("template", 1)], "moderate"),
        ([_row("infrastructure", 5, "lab-x", "partner")], "moderate"),
        ([_row("infrastructure", 5, "lab-x", "partner"), _row("client", 1, "lab-x", "partner")], "moderate"),
        ([_row("infrastructure", 5), _row("template", 1, "lab-x", "partner")], "high"),
        ([_row("identity", 1), _row("template", 2, "lab-x", "partner")], "high"),
        # one partner naming an actor and matching it is one source: not high on its own
        ([_row("infrastructure", 5, "lab-x", "partner"), _row("template", 1, "lab-x", "partner")], "moderate"),
        (
            [_row("infrastructure", 5, "lab-x", "partner"), _row("template", 1, "lab-y", "partner")],
            "high",
        ),
    ],
)
def test_confidence_follows_the_rule_table(rows: list[dict], level: str) -> None:
    got = _assess("someone", rows)
    assert got["confidence"] == level
    assert got["reasons"][0].startswith(level)


def _registry(path: Path, exports: dict, campaign: str, name: str, alias: str) -> Path:
    """A registry entry an analyst would write: known proxy addresses and the operator's user agents only."""
    rows = read_intel(exports[(campaign, "stix")])
    addresses = [i.value for _, _, i in rows if i.kind == "ipv4-addr"][:20]
    entry = {"name": name, "aliases": [alias], "infrastructure": addresses, "clients": ["Go-http-client/1.1"]}
    path.write_text(json.dumps({"actors": [entry]}))
    return path


def test_registry_actor_is_low_alone_and_high_once_a_partner_confirms(
    providers: dict, exports: dict, tmp_path: Path
) -> None:
    a_actor, b_actor = providers["a"].campaign_actor(), providers["b"].campaign_actor()
    shared = next(c for c, a in a_actor.items() if a == "C")
    registry = _registry(tmp_path / "actors.json", exports, shared, "Hydra reseller", f"provider-a {shared} operator")
    store = providers["b"].copy(tmp_path / "b.duckdb")
    target = next(c for c, a in b_actor.items() if a == "C")

    before = json.loads(run("attribute", "--db", str(store), "--actors", str(registry), "--json"))
    got = next(r for r in before if r["campaign_id"] == target)
    assert (got["actor"], got["confidence"], got["partners"]) == ("Hydra reseller", "low", [])
    assert all(r["actor"] == "unknown" for r in before if r["campaign_id"] != target)

    run("import", str(exports[(shared, "stix")]), "--partner", "provider-a", "--db", str(store))
    after = json.loads(run("attribute", "--db", str(store), "--actors", str(registry), "--json"))
    got = next(r for r in after if r["campaign_id"] == target)
    assert (got["actor"], got["confidence"], got["partners"]) == ("Hydra reseller", "high", ["provider-a"])
    assert any(r.startswith("matches actor registry") for r in got["reasons"])
    assert any(r.startswith("confirmed by partner provider-a") for r in got["reasons"])


def test_keyed_hashes_match_only_with_the_same_partner_key(providers: dict, exports: dict, tmp_path: Path) -> None:
    """Our own export read back into our own store: the e-mail and payment hashes find exactly the campaign's
    accounts with the key they were made with, and nothing with another key."""
    a: Provider = providers["a"]
    campaign = next(iter(a.campaign_actor()))
    counts = {}
    for key in (PARTNER_KEY, "some-other-key"):
        store = a.copy(tmp_path / f"{len(counts)}.duckdb")
        run("import", str(exports[(campaign, "misp")]), "--partner", "mirror", "--db", str(store), "--partner-key", key)
        with DuckDBAPI(store, read_only=True) as db:
            counts[key] = db.query("""
                SELECT kind, count(DISTINCT account_id) AS n, count(*) FILTER (WHERE campaign_id IS DISTINCT FROM
                  (SELECT min(campaign_id) FROM campaigns)) AS elsewhere
                FROM intel_matches WHERE kind IN ('email-hmac', 'payment-hmac') GROUP BY kind""").to_pylist()
            members = db.scalar(f"SELECT count(*) FROM campaign_members WHERE campaign_id = '{campaign}'")
    by_kind = {r["kind"]: r for r in counts[PARTNER_KEY]}
    assert by_kind["email-hmac"]["n"] == members and by_kind["email-hmac"]["elsewhere"] == 0
    assert by_kind["payment-hmac"]["n"] >= 1
    assert counts["some-other-key"] == []


def test_import_and_attribute_fail_with_one_line(tmp_path: Path, providers: dict) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"hello": "world"}))
    store = str(providers["a"].db)
    for args in (
        ["import", str(bad), "--partner", "x", "--db", store],
        ["import", str(tmp_path / "missing.json"), "--partner", "x", "--db", store],
        ["attribute", "--db", str(tmp_path / "none.duckdb")],
        ["attribute", "--db", store, "--actors", str(bad)],
        ["export", "--campaign", "camp_9999", "--tlp", "red", "--db", store],
    ):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 1, args
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, (args, result.stderr)
