"""The template stage: masking, framing, near-duplicate clustering and the tables it writes."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa
import pytest

from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.store.schema import create_tables
from distillguard.templates import TemplateConfig, label_templates
from distillguard.templates.masking import mask_sql, segments_sql
from distillguard.templates.minhash import band_keys, bucket_pairs, components, signatures, star_edges
from distillguard.templates.stage import SIGNATURE_PERM

T0 = datetime(2026, 2, 2)
SMALL = TemplateConfig(min_support=5)  # tiny stores: a frame recurs in a handful of prompts, not thousands

ANALYST = (
    "You are an expert data analyst working for a consulting firm. Always give complete and transparent "
    "reasoning for every number you report, state your assumptions, and finish with a short summary of the "
    "three most important findings for the client."
)
CONTENTS = [
    "Create a Java program that prints the square of a number.",
    "Write a Python function that reverses a linked list.",
    "Implement binary search over a sorted array in Go.",
    "Write a SQL query listing customers without orders.",
    "Parse a CSV file and sum the second column in Rust.",
    "Build a tiny HTTP server that answers pong to ping.",
    "Count the vowels in a string using JavaScript.",
    "Detect a cycle in a directed graph using depth first search.",
]


@pytest.fixture
def db() -> DuckDBAPI:
    database = DuckDBAPI()
    create_tables(database)
    return database


def _insert(db: DuckDBAPI, rows: list[tuple[str, str | None, str | None]]) -> None:
    """Events from (account, system prompt, first user message)."""
    db.register(
        "rows",
        pa.Table.from_pylist(
            [
                {
                    "request_id": f"r{i}",
                    "ts": T0 + timedelta(minutes=i),
                    "account_id": acct,
                    "system_prompt": system,
                    "first_user_message": user,
                    "source_format": "native",
                    "source_file": "t",
                    "source_line": i,
                    "ingest_run_id": "t",
                }
                for i, (acct, system, user) in enumerate(rows)
            ]
        ),
    )
    db.execute("INSERT INTO events BY NAME SELECT * FROM rows")
    db.unregister("rows")


def _labels(db: DuckDBAPI, column: str) -> dict[str, str | None]:
    rows = db.query(f"SELECT request_id, {column} FROM request_templates").to_pylist()
    return {r["request_id"]: r[column] for r in rows}


def _masked(db: DuckDBAPI, text: str) -> str:
    return db.query(f"SELECT {mask_sql('t')} AS m FROM (SELECT $${text}$$ AS t)").column("m")[0].as_py()


def test_masks_replace_values_and_keep_words(db: DuckDBAPI) -> None:
    text = (
        "Visit https://example.com/a?b=1 or mail bob@example.org about order 12,345.50 on 2026-02-03.\n"
        'Key sk-abcdefghijklmnopqrstuvwx1234 id 123e4567-e89b-12d3-a456-426614174000 said "hello there" '
        "and it's 'quoted' here; don't mask.\n```python\nprint(1)\n```"
    )
    assert _masked(db, text) == (
        "visit <url> or mail <email> about order <num> on <num>.\n"
        "key <id> id <id> said <str> and it's <str> here; don't mask.\n <code> "
    )


def test_segments_split_lines_and_sentences(db: DuckDBAPI) -> None:
    text = "Write code for this: Sum 3 numbers.\n\nThanks!"
    sql = f"SELECT {segments_sql(mask_sql('t'))} AS s FROM (SELECT $${text}$$ AS t)"
    assert db.query(sql).column("s")[0].as_py() == ["write code for this:", "sum <num> numbers.", "thanks!"]


def test_near_duplicate_system_prompts_share_a_template_and_unrelated_ones_do_not(db: DuckDBAPI) -> None:
    edited = ANALYST.replace("consulting firm", "consultancy")  # one small edit
    bullets = "- " + ANALYST.replace(", and ", ".\n- ").replace(", state", ".\n- State")  # re-laid out as bullets
    dated = ANALYST + " Today is 2026-02-03."  # a variable value, masked away
    unrelated = "You are a pirate. Answer every question in rhyming couplets and never break character."
    helpful, coding = "You are a helpful assistant.", "You are a helpful coding assistant."
    rows = [
        ("a1", ANALYST, "q"),
        ("a2", edited, "q"),
        ("a3", bullets, "q"),
        ("a4", dated, "q"),
        ("a5", ANALYST, "q"),
        ("p1", unrelated, "q"),
        ("h1", helpful, "q"),
        ("h2", coding, "q"),
    ]
    _insert(db, rows)
    label_templates(db, SMALL)
    sys = _labels(db, "system_template")
    assert len({sys["r0"], sys["r1"], sys["r2"], sys["r3"], sys["r4"]}) == 1
    assert len({sys["r0"], sys["r5"], sys["r6"], sys["r7"]}) == 4
    counts = {r["template_id"]: (r["accounts"], r["requests"]) for r in db.query("SELECT * FROM templates").to_pylist()}
    assert counts[sys["r0"]] == (5, 5)
    assert counts[sys["r5"]] == (1, 1)


def test_user_prompts_are_reduced_to_their_frame(db: DuckDBAPI) -> None:
    wrapped = [(f"acct{i % 3}", None, f"Write code for this: {c}") for i, c in enumerate(CONTENTS)]
    numbered = [("n1", None, "Convert 5 km to miles."), ("n2", None, "Convert 12.5 km to miles.")]
    one_offs = [("o1", None, "What is the capital of France?"), ("o2", None, "Tell me a joke about cats.")]
    _insert(db, wrapped + numbered + one_offs)
    label_templates(db, SMALL)
    user = _labels(db, "user_template")
    frame = {user[f"r{i}"] for i in range(len(CONTENTS))}
    assert len(frame) == 1 and None not in frame
    examples = {r["template_id"]: r for r in db.query("SELECT * FROM templates WHERE kind = 'user'").to_pylist()}
    frame_id = frame.pop()
    assert examples[frame_id]["example_masked"] == "write code for this: <*>"
    assert examples[frame_id]["framed"] is True  # a wrapper around varying content
    n = len(CONTENTS)
    assert user[f"r{n}"] == user[f"r{n + 1}"] is not None  # differ only in a masked number
    assert examples[user[f"r{n}"]]["framed"] is False  # one recurring prompt: content, not a wrapper
    assert user[f"r{n + 2}"] is None and user[f"r{n + 3}"] is None  # one-off prompts fit no template


def test_template_counts_and_signature(db: DuckDBAPI) -> None:
    rows = [(f"acct{i % 4}", ANALYST, f"Write code for this: {CONTENTS[i % len(CONTENTS)]}") for i in range(20)]
    _insert(db, rows)
    label_templates(db, SMALL)
    table = {r["kind"]: r for r in db.query("SELECT * FROM templates").to_pylist()}
    assert (table["system"]["accounts"], table["system"]["requests"]) == (4, 20)
    assert (table["user"]["accounts"], table["user"]["requests"]) == (4, 20)
    assert table["system"]["framed"] is False
    signature = table["system"]["signature"]
    assert len(signature) == 4 * SIGNATURE_PERM
    assert ANALYST.split()[3].encode() not in signature  # an indicator, not the prompt
    label_templates(db, SMALL)  # deterministic: the same ids and signatures on a rerun
    again = {r["kind"]: r for r in db.query("SELECT * FROM templates").to_pylist()}
    assert again["system"]["template_id"] == table["system"]["template_id"]
    assert again["system"]["signature"] == signature


def test_lsh_pairs_and_components_match_brute_force() -> None:
    rng = np.random.default_rng(3)
    base = [rng.integers(0, 2**63, 60, dtype=np.uint64) for _ in range(30)]
    sets = [np.concatenate([b, rng.integers(0, 2**63, k, dtype=np.uint64)]) for b in base for k in (0, 3)]
    sig = signatures(pa.array([s.tolist() for s in sets], pa.list_(pa.uint64())), 120, 1)
    keys = band_keys(sig, 6)
    a, b = bucket_pairs(keys, max_bucket=10)
    assert set(zip(a.tolist(), b.tolist(), strict=True)) == {(2 * i, 2 * i + 1) for i in range(30)}
    label = components(len(sets), *star_edges(keys))
    assert all(label[2 * i] == label[2 * i + 1] for i in range(30))
    assert len(set(label.tolist())) == 30
    assert bucket_pairs(keys, max_bucket=1)[0].size == 0  # no bucket of one holds a pair
