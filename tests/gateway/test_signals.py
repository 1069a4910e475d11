"""Cheap per-request signals: the Python masking twin agrees with the SQL masking, template matching against
real template-stage signatures, the address class agrees with the vectorised classifier, the CoT hint."""

from __future__ import annotations

import duckdb
import numpy as np
import pytest
from rensa import RMinHash

from distillguard.enrich.network import NetworkClassifier
from distillguard.gateway.signals import TemplateIndex, cot_hint, masked, shingles
from distillguard.templates.masking import flat_sql, mask_sql, shingles_sql, words_sql
from distillguard.templates.stage import SIGNATURE_PERM, SIGNATURE_SEED

TEXTS = [
    "You are an expert data analyst. Give complete and transparent reasoning.",
    'Fix this:\n```python\nprint("hi")\n```\nThen call `make test` on v1.2.3 at 10:30.',
    "Mail bob.smith+x@example.org or see https://example.com/a?b=1 — id 123e4567-e89b-12d3-a456-426614174000",
    "Token sk_live_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345 and hash deadbeefcafe1234 and 'quoted text' but don't it's",
    "Score the answer 1-10.\n\n  Rubric:   be   strict\t\tplease!  “curly quoted” 3.14159",
    "",
]


# A text's masked one-line form and its word-bigram shingles, by the template stage's own SQL.
SQL_TWIN = (
    f"SELECT f, {shingles_sql(words_sql('f', 256), 'f')} "
    f"FROM (SELECT {flat_sql(mask_sql('t'))} AS f FROM (SELECT ? AS t))"
)


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    return duckdb.connect()


@pytest.mark.parametrize("text", TEXTS)
def test_python_masking_and_shingles_equal_the_sql_ones(con, text: str) -> None:
    flat, grams = con.execute(
        SQL_TWIN,
        [text],
    ).fetchone()
    assert masked(text) == flat
    assert shingles(masked(text)) == grams


def _signature(text: str) -> np.ndarray:
    """A template signature exactly as the template stage computes it (SQL shingles, rensa matrix)."""
    con = duckdb.connect()
    _, grams = con.execute(
        SQL_TWIN,
        [text],
    ).fetchone()
    matrix = RMinHash.digest_matrix_from_token_sets([grams], SIGNATURE_PERM, SIGNATURE_SEED)
    return np.array(matrix.to_rows(), dtype="<u4").reshape(SIGNATURE_PERM)


def test_template_index_matches_system_and_framed_user_templates() -> None:
    system = "You are an expert data analyst working on dataset 17. Give complete and transparent reasoning."
    frame = "below is a task. <*> write out your full reasoning step by step before the final answer."
    index = TemplateIndex.build(
        [("sys-1", "system", masked(system), _signature(system)), ("usr-1", "user", frame, None)]
    )
    hit = index.match(
        "You are an expert data analyst working on dataset 9942. Give complete and transparent reasoning.", ""
    )
    assert hit is not None and hit.template_id == "sys-1" and hit.similarity >= 0.7
    assert index.match("You are a friendly travel agent. Suggest three cities.", "") is None
    user = (
        "Below is a task. Compute the median of 3, 9, 4 and 7.\n"
        "Write out your full reasoning step by step before the final answer."
    )
    hit = index.match(None, user)
    assert hit is not None and hit.template_id == "usr-1" and hit.similarity >= 0.8
    assert index.match(None, "Compute the median of 3, 9, 4 and 7.") is None


def _word(i: int) -> str:
    return "".join(chr(97 + (i // 26**k) % 26) for k in range(3))


def test_template_match_picks_the_right_one_among_many_near_duplicates() -> None:
    # Speed is measured in benchmarks/gateway.py (CPU per request), not asserted here.
    rows = [
        (
            f"usr-{i}",
            "user",
            f"task family {_word(i)} alpha beta gamma <*> answer format {_word(i)} delta epsilon",
            None,
        )
        for i in range(2000)
    ]
    index = TemplateIndex.build(rows)
    text = f"Task family {_word(1234)} alpha beta gamma. Sort 3, 1, 2. Answer format {_word(1234)} delta epsilon."
    hit = index.match("You are a helpful assistant.", text)
    assert hit is not None and hit.template_id == "usr-1234"
    assert index.match(None, "What is the capital of France? Please answer briefly.") is None


def test_address_class_of_one_address_agrees_with_vectorised_classifier() -> None:
    net = NetworkClassifier.default()
    lo, _, _ = net.ranges("cloud")
    ips = [
        "10.1.2.3",
        "8.8.8.8",
        "not an ip",
        "::ffff:10.0.0.1",
        "2001:db8::1",
        str(int(lo[0]) >> 24) + ".0.0.1",
        ".".join(str((int(lo[0]) >> s) & 255) for s in (24, 16, 8, 0)),
    ]
    expected = net.classify(ips).column("ip_class").to_pylist()
    assert [net.class_of(ip) for ip in ips] == expected
    assert "cloud" in expected and "private" in expected and "invalid" in expected


def test_cot_hint_separates_reasoning_elicitation_from_ordinary_prompts() -> None:
    asking = [
        "Imagine and articulate the internal reasoning behind a completed response and write it out step by step.",
        "Explain your reasoning in full, think out loud, and put it in <thinking> tags.",
        "Give the complete chain-of-thought that leads to this answer.",
    ]
    ordinary = ["What is the capital of France?", "Write a haiku about autumn.", "Fix the bug in this loop: for i in x"]
    assert min(cot_hint(t) for t in asking) >= 0.5
    assert max(cot_hint(t) for t in ordinary) == 0.0
    assert cot_hint(None) == 0.0
