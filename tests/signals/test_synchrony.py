"""Synchrony on hand-made timelines: a load balancer's accounts move together; people keeping the same office
hours, or two always-on services, only overlap as much as their routines predict."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from distillguard.signals.synchrony import SynchronisedActivity
from tests.signals.conftest import event

START = datetime(2026, 2, 2)  # a Monday
DAYS = 10


def _events(account: str, seconds: np.ndarray) -> list[dict]:
    return [event(account, n, ts=START + timedelta(seconds=float(s))) for n, s in enumerate(np.sort(seconds))]


def _load_balanced(rng: np.random.Generator, accounts: list[str], bursts: int, off_hours: range) -> list[dict]:
    """A harvest script's jobs: bursts of requests at random times (except a daily maintenance window), each
    dealt round-robin over `accounts` within a minute."""
    on = np.array([h for h in range(24) if h not in off_hours])
    starts = np.concatenate(
        [day * 86_400 + rng.choice(on, bursts) * 3_600 + rng.uniform(0, 3_600, bursts) for day in range(DAYS)]
    )
    stream = np.sort((starts[:, None] + rng.uniform(0, 60, (len(starts), 2 * len(accounts)))).ravel())
    return [e for k, acct in enumerate(accounts) for e in _events(acct, stream[k :: len(accounts)])]


def _office_worker(rng: np.random.Generator, account: str, per_day: int) -> list[dict]:
    """Independent requests in office hours (9-17) on weekdays."""
    days = [d for d in range(DAYS) if (START + timedelta(days=d)).weekday() < 5]
    return _events(account, np.concatenate([d * 86_400 + rng.uniform(9 * 3_600, 17 * 3_600, per_day) for d in days]))


def _pairs(store, events: list[dict]) -> dict[tuple[str, str], dict]:  # noqa: ANN001
    return {(r["account_a"], r["account_b"]): r for r in SynchronisedActivity().compute(store(events)).to_pylist()}


def test_accounts_behind_one_load_balancer_are_linked_and_two_cells_are_not_linked_to_each_other(store) -> None:  # noqa: ANN001
    rng = np.random.default_rng(1)
    cell_1 = _load_balanced(rng, ["a", "b"], bursts=30, off_hours=range(2, 4))
    cell_2 = _load_balanced(rng, ["c", "d", "e"], bursts=30, off_hours=range(14, 15))
    pairs = _pairs(store, cell_1 + cell_2)
    assert set(pairs) == {("a", "b"), ("c", "d"), ("c", "e"), ("d", "e")}
    assert all(p["weight"] > 0.5 for p in pairs.values())
    assert "expected from their hours of activity" in pairs["a", "b"]["detail"]
    assert len(pairs["a", "b"]["evidence"]) == 2


def test_people_with_the_same_office_hours_are_not_linked(store) -> None:  # noqa: ANN001
    rng = np.random.default_rng(2)
    # Busy enough to fill most half-hours of the working day: raw Jaccard is high, chance explains it.
    events = _office_worker(rng, "p", 40) + _office_worker(rng, "q", 40) + _office_worker(rng, "r", 6)
    assert _pairs(store, events) == {}


def test_always_on_services_are_not_linked_by_being_always_on(store) -> None:  # noqa: ANN001
    rng = np.random.default_rng(3)
    events = _events("s1", rng.uniform(0, DAYS * 86_400, 2_000)) + _events("s2", rng.uniform(0, DAYS * 86_400, 2_000))
    assert _pairs(store, events) == {}


def test_accounts_with_too_few_active_buckets_are_ignored(store) -> None:  # noqa: ANN001
    rng = np.random.default_rng(4)
    pairs = _pairs(store, _load_balanced(rng, ["a", "b"], bursts=1, off_hours=range(0)))
    assert pairs == {}
