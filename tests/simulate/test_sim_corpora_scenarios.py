"""Shipped prompt data, optional extras, and scenario resolution."""

from __future__ import annotations

import json
import warnings
from importlib import resources

import pytest

from distillguard.simulate import corpora
from distillguard.simulate.scenarios import KNOBS, SCENARIOS, Evasion, get_scenario, scaled

PROMPTS = resources.files("distillguard") / "data" / "prompts"


def test_only_permissive_corpora_are_shipped() -> None:
    manifest = json.loads((PROMPTS / "MANIFEST.json").read_text())
    assert {m["licence"] for m in manifest} <= {"CC0", "MIT", "Apache-2.0"}
    names = {m["corpus"] for m in manifest}
    assert not names & {"alpaca_eval_human", "codealpaca_2k", "alpaca_seed_tasks", "sharegpt_1000"}
    notice = (PROMPTS / "NOTICE").read_text()
    shipped = [p for p in PROMPTS.iterdir() if p.name.endswith(".zst")]
    assert {p.name for p in shipped} == {m["file"] for m in manifest}
    for m in manifest:
        assert m["file"] in notice and m["source"].split("@")[1] in notice
    assert sum(p.stat().st_size for p in shipped) < 8_000_000
    assert {p.licence for p in corpora.load_prompts(extras=False)} <= {"CC0", "MIT", "Apache-2.0"}


def test_extras_are_skipped_cleanly_when_shared_data_is_absent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(corpora, "shared_data_dir", lambda: None)
    shipped = corpora.load_prompts(extras=False)
    assert corpora.load_prompts(extras=None) == shipped
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert corpora.load_prompts(extras=True) == shipped
    assert any("skipped" in str(w.message) for w in caught)


@pytest.mark.skipif(corpora.shared_data_dir() is None, reason="shared/data is not present")
def test_extras_add_the_non_redistributable_corpora() -> None:
    extra = {p.corpus for p in corpora.load_prompts(extras=True)} - {p.corpus for p in corpora.load_prompts(False)}
    assert extra == {"alpaca_eval_human", "codealpaca_2k", "alpaca_seed_tasks", "sharegpt_1000"}


def test_no_text_is_in_both_splits() -> None:
    train = {p.text.strip() for p in corpora.prompts("train", extras=False)}
    test = {p.text.strip() for p in corpora.prompts("test", extras=False)}
    assert not train & test


def test_scenario_names_and_knobs() -> None:
    assert set(SCENARIOS) >= {"standard", "evasive", "benign-only", "article"}
    assert get_scenario("evasive").evasion.knobs == frozenset(KNOBS)
    assert not get_scenario("benign-only").campaigns
    s = get_scenario("standard+human_timing+no_shared_payment")
    assert s.evasion.knobs == {"human_timing", "no_shared_payment"}
    assert s.name == "standard+human_timing+no_shared_payment"
    with pytest.raises(ValueError, match="unknown scenario"):
        get_scenario("nope")
    with pytest.raises(ValueError, match="unknown evasion knob"):
        get_scenario("standard+teleport")


def test_per_cell_knobs_cycle_through_one_knob_each() -> None:
    ev = Evasion(knobs=frozenset(KNOBS), assignment="per_cell")
    cells = [ev.for_cell(i, hydra=True) for i in range(len(KNOBS) + 1)]
    assert cells[0] == frozenset() and {k for c in cells for k in c} == set(KNOBS)
    assert all(len(c) <= 1 for c in cells)
    # reseller mixing only means something through the hydra reseller
    assert "reseller_mixing" not in {k for i in range(20) for k in ev.for_cell(i, hydra=False)}
    assert Evasion(knobs=frozenset(KNOBS)).for_cell(0, hydra=False) == frozenset(KNOBS) - {"reseller_mixing"}
    assert ev.mixing(frozenset({"reseller_mixing"})) == ev.heavy_mixing and ev.mixing(frozenset()) == ev.base_mixing


def test_scale_keeps_every_population() -> None:
    assert scaled(22_000, 1.0, 40) == 22_000
    assert scaled(22_000, 0.0001, 40) == 40


def test_twin_competitors_are_two_actors_with_one_playbook_and_their_own_wording(runs) -> None:
    run = runs.get("twin-competitors", scale=0.001)
    camps = [c for c in get_scenario("twin-competitors").campaigns if c.archetype == "B"]
    assert len(camps) == 2 and camps[0].actor != camps[1].actor
    actors = {t["campaign_id"]: t["actor"] for t in run.truth.values() if t["role"] == "campaign"}
    assert actors["campaign-b"] == "B" and actors["campaign-b2"] == "B2"
    system = {"campaign-b": set(), "campaign-b2": set()}
    for i in run.campaign_rows(harvest_only=True):
        campaign = run.truth[run.logs[i]["account_id"]]["campaign_id"]
        body = run.body(i)
        prompt = body.get("system") or next((m["content"] for m in body["messages"] if m["role"] == "system"), None)
        if campaign in system and prompt:
            system[campaign].add(str(prompt))
    assert system["campaign-b"] and system["campaign-b2"]
    assert not system["campaign-b"] & system["campaign-b2"]  # each its own wording of the shared templates
