"""Content signals on a hand-made store: a CoT harvester, a person chatting, a heavy legitimate developer, a
synthetic-data customer and a casual user too small to judge, labelled by the shipped models."""

from __future__ import annotations

import pyarrow as pa
import pytest

from distillguard.content import load_default_models
from distillguard.content.stage import label_content
from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.signals.base import DetectionContext
from distillguard.signals.content import (
    MIN_REQUESTS,
    CapabilityConcentration,
    CotElicitationShare,
    SyntheticDataShare,
)
from distillguard.store.schema import create_tables
from tests.signals.conftest import event

COT_SYSTEMS = (
    "Before answering, write out your complete line of reasoning, one numbered step per line.",
    "You are a careful solver. Show all of your thinking step by step, then the final answer.",
    "Given a question and its answer, explain in detail the reasoning steps that produce that answer.",
)
QUESTIONS = (
    "How many weekdays are there in March 2026?",
    "Why do onions make people cry?",
    "Is 221 a prime number?",
    "What causes the seasons?",
    "Which weighs more, a kilo of feathers or a kilo of steel?",
    "How far does light travel in a minute?",
    "Why is the sea salty?",
    "What is 17% of 350?",
)
CHAT = (
    "What's a good name for a goldfish?",
    "Recommend a cosy mystery novel.",
    "How do I get wine out of a carpet?",
    "Tell me a joke about penguins.",
    "What should I cook tonight with rice and spinach?",
    "Is it worth visiting Lisbon in November?",
)
CODE = (
    "Here's my Python code, it crashes with IndexError: list index out of range:\n\n"
    "for i in range(len(items) + 1):\n    print(items[i])",
    "Write a Python function that merges two sorted lists into one sorted list.",
    "Why does this raise KeyError?\n\nconfig = {}\nprint(config['host'])",
    "Write a unit test for this function:\n\ndef slugify(title):\n    return title.lower().replace(' ', '-')",
)
DATA_GENERATION = (
    'Generate 20 realistic app reviews from angry users. Return a JSON list of objects with the fields "text" and '
    '"label".',
    "Create 50 labelled examples of customer e-mails asking for a refund, for training an intent classifier.",
)


def _events() -> list[dict]:
    rows = []
    for n in range(30):
        rows.append(
            event(
                "harvester",
                n,
                system_prompt=COT_SYSTEMS[n % 3],
                first_user_message=QUESTIONS[n % len(QUESTIONS)] + f" (#{n})",
            )
        )
        rows.append(event("person", n, first_user_message=CHAT[n % len(CHAT)]))
        rows.append(
            event(
                "developer",
                n,
                system_prompt="You are a coding assistant.",
                first_user_message=CODE[n % len(CODE)] + f"\n# case {n}",
            )
        )
        rows.append(event("datagen", n, first_user_message=DATA_GENERATION[n % 2]))
    rows += [event("casual", n, system_prompt=COT_SYSTEMS[0], first_user_message=QUESTIONS[n]) for n in range(5)]
    return rows


@pytest.fixture(scope="module")
def labelled() -> DetectionContext:
    db = DuckDBAPI()
    create_tables(db)
    db.register("rows", pa.Table.from_pylist(_events()))
    db.execute("INSERT INTO events BY NAME SELECT * FROM rows")
    db.unregister("rows")
    label_content(db, batch_rows=17)  # several time ranges, so the batching is exercised
    return DetectionContext(db)


def _rows(signal, ctx) -> dict[str, dict]:  # noqa: ANN001
    return {r["account_id"]: r for r in signal().compute(ctx).to_pylist()}


def test_every_request_is_labelled_exactly_once(labelled) -> None:  # noqa: ANN001
    db = labelled.db
    assert db.scalar("SELECT count(*) FROM request_content") == db.scalar("SELECT count(*) FROM events")
    assert db.scalar("SELECT count(DISTINCT request_id) FROM request_content") == len(_events())
    assert (
        db.scalar(
            "SELECT count(*) FROM request_content r JOIN events e USING (request_id) "
            "WHERE r.account_id <> e.account_id OR r.ts <> e.ts"
        )
        == 0
    )


def test_cot_harvester_has_a_high_share_with_evidence(labelled) -> None:  # noqa: ANN001
    rows = _rows(CotElicitationShare, labelled)
    harvester = rows["harvester"]
    assert harvester["value"] >= CotElicitationShare.threshold
    assert len(harvester["evidence"]) == 3 and all(e.startswith("harvester-") for e in harvester["evidence"])
    assert "requests ask for written-out reasoning" in harvester["detail"]
    for benign in ("person", "developer", "datagen"):
        assert rows[benign]["value"] < CotElicitationShare.threshold, benign
    assert "casual" not in rows  # fewer than MIN_REQUESTS requests: no verdict on a share
    assert MIN_REQUESTS > 5


def test_heavy_developer_is_concentrated_on_coding_but_not_cot(labelled) -> None:  # noqa: ANN001
    rows = _rows(CapabilityConcentration, labelled)
    developer = rows["developer"]
    assert developer["value"] >= CapabilityConcentration.threshold
    assert "are coding" in developer["detail"]
    assert all(e.startswith("developer-") for e in developer["evidence"])
    assert rows.get("person", {"value": 0.0})["value"] < CapabilityConcentration.threshold
    assert _rows(CotElicitationShare, labelled)["developer"]["value"] == 0.0


def test_synthetic_data_share_fires_only_for_the_data_generator(labelled) -> None:  # noqa: ANN001
    rows = _rows(SyntheticDataShare, labelled)
    assert rows["datagen"]["value"] == 1.0
    assert all(e.startswith("datagen-") for e in rows["datagen"]["evidence"])
    assert max(rows[a]["value"] for a in ("harvester", "person", "developer")) == 0.0


def test_the_stage_labels_long_texts_as_the_models_do() -> None:
    long_message = "Show every step of your reasoning. " + "Here is my pasted log line. " * 300 + "Score: ?"
    rows = [
        event("a", 0, system_prompt="Ç" * 4000, first_user_message=long_message),
        event("a", 1, first_user_message="short"),
    ]
    db = DuckDBAPI()
    create_tables(db)
    db.register("rows", pa.Table.from_pylist(rows))
    db.execute("INSERT INTO events BY NAME SELECT * FROM rows")
    models = load_default_models()
    label_content(db, models)  # texts arrive cut to head + tail in SQL
    stored = db.query("SELECT cot_score, capability, synthetic_score FROM request_content ORDER BY request_id")
    direct = models.label(pa.Table.from_pylist(rows))  # the featurizer cuts them itself
    assert stored.column("capability").to_pylist() == direct.column("capability").to_pylist()
    for name in ("cot_score", "synthetic_score"):
        assert stored.column(name).to_pylist() == pytest.approx(direct.column(name).to_pylist())
