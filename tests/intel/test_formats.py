"""STIX 2.1 bundles and MISP feeds: accepted by the libraries, marked as chosen, and lossless on the way back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import stix2

from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.intel.indicators import campaign_intel
from distillguard.intel.partners import read_intel
from distillguard.intel.stix import TLP_IDS, parse_bundle, to_bundle

from .conftest import PARTNER_KEY, Provider


def test_every_bundle_parses_and_has_the_campaign_actor_indicators_and_sightings(exports: dict) -> None:
    for (campaign, fmt), path in exports.items():
        if fmt != "stix":
            continue
        bundle = stix2.parse(path.read_text(), allow_custom=True)
        objects = bundle["objects"]
        types = {o["type"] for o in objects}
        assert {"identity", "campaign", "intrusion-set", "indicator", "sighting", "relationship"} <= types, campaign
        assert "x-distillguard-template-fingerprint" in types, campaign
        me = next(o for o in objects if o["type"] == "identity")
        for o in objects:
            if o["type"] != "marking-definition":
                assert o["object_marking_refs"] == [TLP_IDS["amber"]], o["id"]
        for s in (o for o in objects if o["type"] == "sighting"):
            assert s["count"] > 0 and s["first_seen"] <= s["last_seen"]
            assert s["where_sighted_refs"] == [me["id"]]
        rel = {(o["relationship_type"], o["target_ref"].split("--")[0]) for o in objects if o["type"] == "relationship"}
        assert rel == {("attributed-to", "intrusion-set"), ("indicates", "campaign")}


def _pairs(rows: list) -> set[tuple[str, str, int]]:
    return {(ind.kind, ind.value, ind.requests) for _, _, ind in rows}


def test_round_trip_gives_back_the_same_indicators_in_both_formats(providers: dict, exports: dict) -> None:
    a: Provider = providers["a"]
    with DuckDBAPI(a.db, read_only=True) as db:
        for campaign in a.campaign_actor():
            intel = campaign_intel(db, campaign, provider="provider-a", tlp="amber", partner_key=PARTNER_KEY.encode())
            ours = {(i.kind, i.value, i.requests) for i in intel.indicators}
            assert ours
            assert _pairs(read_intel(exports[(campaign, "stix")])) == ours
            assert _pairs(read_intel(exports[(campaign, "misp")])) == ours
            actors = {actor for actor, _, _ in read_intel(exports[(campaign, "misp")])}
            assert actors == {f"provider-a {campaign} operator"}


@pytest.mark.parametrize("level", list(TLP_IDS))
def test_the_chosen_tlp_level_marks_the_bundle_and_the_feed(providers: dict, level: str) -> None:
    from distillguard.intel.misp import to_feed

    with DuckDBAPI(providers["a"].db, read_only=True) as db:
        campaign = db.scalar("SELECT min(campaign_id) FROM campaigns")
        intel = campaign_intel(db, str(campaign), provider="p", tlp=level, limit=5)
    bundle = json.loads(to_bundle(intel).serialize())
    marking = next(o for o in bundle["objects"] if o["type"] == "marking-definition")
    assert marking["id"] == TLP_IDS[level] and marking["name"] == f"TLP:{level.upper()}"
    assert next(iter(marking["extensions"].values()))["tlp_2_0"] == level
    assert f"tlp:{level}" in {t["name"] for t in to_feed(intel)["Event"]["Tag"]}


def test_bundles_from_other_tools_are_read_from_their_patterns(tmp_path: Path) -> None:
    """A partner without distillguard writes plain STIX: addresses, prefixes and user agents still come in."""
    ua = "[network-traffic:extensions.'http-request-ext'.request_header.'User-Agent' = 'x/1.0']"
    patterns = {
        "[ipv4-addr:value = '198.51.100.7']": ("ipv4-addr", "198.51.100.7"),
        "[ipv4-addr:value ISSUBSET '203.0.113.0/24']": ("ip-prefix", "203.0.113.0/24"),
        ua: ("user-agent", "x/1.0"),
        "[file:hashes.'SHA-256' = '" + "a" * 64 + "']": None,  # not ours to match: skipped
    }
    actor = stix2.ThreatActor(name="Example Actor")
    campaign = stix2.Campaign(name="Example campaign")
    objects: list = [actor, campaign, stix2.Relationship(campaign, "attributed-to", actor)]
    for pattern in patterns:
        ind = stix2.Indicator(pattern=pattern, pattern_type="stix", valid_from="2026-02-01T00:00:00Z")
        objects += [ind, stix2.Relationship(ind, "indicates", campaign)]
    rows = parse_bundle(stix2.Bundle(objects=objects).serialize())
    assert {(i.kind, i.value) for _, _, i in rows} == {v for v in patterns.values() if v}
    assert {(a, c) for a, c, _ in rows} == {("Example Actor", "Example campaign")}
