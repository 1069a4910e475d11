"""Behaviour signals on hand-made accounts: a load-balanced harvester vs a person vs a heavy legitimate user."""

from __future__ import annotations

from datetime import timedelta

from distillguard.signals.behaviour import (
    GapRegularity,
    HoursCovered,
    MaxTokensHabit,
    NewModelPivot,
    UniquePromptRatio,
)
from tests.signals.conftest import T0, event


def _values(table) -> dict[str, float]:  # noqa: ANN001
    return {r["account_id"]: r["value"] for r in table.to_pylist()}


def _bot_and_person() -> list[dict]:
    bot = [event("bot", n, ts=T0 + timedelta(seconds=90 * n), max_tokens=8192) for n in range(1000)]
    gaps = [5, 400, 30, 1200, 60, 15, 700, 200, 45, 1500]  # seconds: bursts and pauses
    person, t = [], T0 + timedelta(hours=9)
    for n in range(60):
        t += timedelta(seconds=gaps[n % len(gaps)])
        person.append(event("person", n, ts=t, max_tokens=[256, 1024, 4096][n % 3]))
    return bot + person


def test_gap_regularity_separates_a_load_balancer_from_a_person(store) -> None:  # noqa: ANN001
    values = _values(GapRegularity().compute(store(_bot_and_person())))
    assert values["bot"] > GapRegularity.threshold > values["person"]


def test_hours_covered_counts_distinct_hours(store) -> None:  # noqa: ANN001
    values = _values(HoursCovered().compute(store(_bot_and_person())))
    assert values["bot"] == 24.0
    assert values["person"] < HoursCovered.threshold


def test_max_tokens_habit_fires_for_one_large_value_only(store) -> None:  # noqa: ANN001
    rows = MaxTokensHabit().compute(store(_bot_and_person())).to_pylist()
    assert [(r["account_id"], r["value"]) for r in rows] == [("bot", 1.0)]
    assert "max_tokens=8192" in rows[0]["detail"]


def test_new_model_pivot_measures_the_share_moved_in_the_first_day(store) -> None:  # noqa: ANN001
    release = T0 + timedelta(days=5)
    events = [event("x", n, ts=T0 + timedelta(hours=n), model="m1") for n in range(100)]  # before the release
    events += [
        event("x", 1000 + n, ts=release + timedelta(minutes=10 * n), model="m1" if n % 2 else "m2") for n in range(20)
    ]
    events += [event("y", n, ts=T0 + timedelta(hours=n), model="m1") for n in range(100)]
    events += [event("y", 1000 + n, ts=release + timedelta(minutes=10 * n), model="m1") for n in range(20)]
    values = _values(NewModelPivot().compute(store(events)))
    assert values["x"] == 0.5
    assert values["y"] == 0.0


def test_unique_prompt_ratio_reads_a_light_account_as_it_is_not_as_repetitive(store) -> None:  # noqa: ANN001
    """A person with a handful of distinct prompts gets their real ratio (1.0), never the absent value 0 that
    made the ratio stand for volume; an app sending three prompts over and over gets the floor, not less."""
    person = [event("person", n, first_user_message=f"question number {n}") for n in range(5)]
    app = [event("app", n, first_user_message=f"fixed prompt {n % 3}") for n in range(60)]
    rows = {r["account_id"]: r for r in UniquePromptRatio().compute(store(person + app)).to_pylist()}
    assert rows["person"]["value"] == 1.0
    assert rows["person"]["detail"] == "5 distinct prompts in 5 requests"
    assert rows["app"]["value"] == UniquePromptRatio.floor  # repeating is no evidence of innocence
    assert rows["app"]["detail"] == "3 distinct prompts in 60 requests"


def test_max_tokens_habit_reads_a_light_account_too(store) -> None:  # noqa: ANN001
    """Three requests with an SDK's max_tokens=4096 are that habit, not the absent value a minimum count gave."""
    light = [event("light", n, max_tokens=4096) for n in range(3)]
    rows = {r["account_id"]: r for r in MaxTokensHabit().compute(store(light)).to_pylist()}
    assert rows["light"]["value"] == 1.0
    assert rows["light"]["detail"] == "max_tokens=4096 in 3 of 3 requests"
