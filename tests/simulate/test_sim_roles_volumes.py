"""Every role is present, volumes and shares follow the configuration, campaign C's model move."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from distillguard.simulate.scenarios import HARD_NEGATIVE_KINDS, SCENARIOS, scaled

from .conftest import SCALE, SMALL, Run, Runs

STD = SCENARIOS["standard"]
RELEASE = STD.start + timedelta(days=STD.release_day)


def _ts(r: dict) -> datetime:
    return datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00"))


def test_every_role_and_kind_in_standard(standard: Run) -> None:
    roles = {t["role"] for t in standard.truth.values()}
    assert roles == {"benign", "campaign"} | {f"hard_negative:{k}" for k in HARD_NEGATIVE_KINDS}
    logged = Counter(standard.truth[r["account_id"]]["role"] for r in standard.logs)
    assert set(logged) == roles  # and every role actually sends requests
    campaigns = {t["campaign_id"] for t in standard.truth.values() if t["campaign_id"]}
    assert campaigns == {c.campaign_id for c in STD.campaigns}


def test_benign_only_has_no_campaign(runs: Runs) -> None:
    run = runs.get("benign-only", scale=SMALL)
    assert {t["role"] for t in run.truth.values()} == {"benign"} | {f"hard_negative:{k}" for k in HARD_NEGATIVE_KINDS}
    assert all(t["campaign_id"] is None and t["campaign_requests"] == 0 for t in run.truth.values())


def test_accounts_per_role_match_configuration(standard: Run) -> None:
    got = standard.summary.accounts_by_role
    for kind, pop in STD.hard_negatives.items():
        assert got[f"hard_negative:{kind}"] == scaled(pop.accounts, SCALE, pop.min_accounts)
    assert got["campaign"] == sum(scaled(c.accounts, SCALE, c.min_accounts) for c in STD.campaigns)
    # ordinary accounts are split over account types, each rounded
    assert abs(got["benign"] - scaled(STD.benign.accounts, SCALE, STD.benign.min_accounts)) <= 6


def test_requests_per_role_within_tolerance(standard: Run) -> None:
    s = standard.summary
    for role, expected in s.expected_requests_by_role.items():
        # heavy-tailed and bursty: a few hundred benign accounts, a handful per hard negative at this scale
        tolerance = {"campaign": 0.03, "benign": 0.1}.get(role, 0.3)
        assert s.requests_by_role[role] == pytest.approx(expected, rel=tolerance), role
    # the article's split: about as many campaign requests as benign ones
    assert s.requests_by_role["campaign"] / s.requests == pytest.approx(0.5, abs=0.05)


def test_reseller_mixing_ratio(standard: Run) -> None:
    by_campaign: dict[str, list[int]] = {}
    for t in standard.truth.values():
        if t["campaign_id"]:
            pair = by_campaign.setdefault(t["campaign_id"], [0, 0])
            pair[0] += t["campaign_requests"]
            pair[1] += t["total_requests"]
    harvest, total = by_campaign["campaign-c"]
    assert harvest / total == pytest.approx(1 - STD.evasion.base_mixing, abs=0.03)
    assert by_campaign["campaign-a"][0] == by_campaign["campaign-a"][1]  # A and B carry no customer traffic


def test_campaign_c_moves_half_to_the_new_model_within_a_day(standard: Run) -> None:
    rows = [r for r in standard.logs if standard.truth[r["account_id"]]["campaign_id"] == "campaign-c"]

    def new_share(lo: datetime, hi: datetime) -> float:
        window = [r["model"] == "frontier-3" for r in rows if lo <= _ts(r) < hi]
        return sum(window) / len(window)

    end = STD.start + timedelta(days=STD.days)
    assert new_share(STD.start, RELEASE) == 0.0
    assert new_share(RELEASE + timedelta(hours=18), RELEASE + timedelta(hours=24)) == pytest.approx(0.5, abs=0.1)
    assert new_share(RELEASE + timedelta(hours=24), end) == pytest.approx(0.5, abs=0.05)


def test_release_day_enthusiasts_switch_within_hours(standard: Run) -> None:
    role = "hard_negative:release_day_enthusiasts"
    after = [
        r["model"] == "frontier-3"
        for r in standard.logs
        if standard.truth[r["account_id"]]["role"] == role and _ts(r) >= RELEASE + timedelta(hours=6)
    ]
    assert sum(after) / len(after) > 0.8


def test_timestamps_cover_thirty_days_of_2026(standard: Run) -> None:
    first, last = _ts(standard.logs[0]), _ts(standard.logs[-1])
    assert first >= datetime(2026, 2, 1, tzinfo=UTC) and last < datetime(2026, 3, 3, tzinfo=UTC)
    assert last - first > timedelta(days=29)
