"""User-agent classification against the shipped crawler and browser lists."""

from __future__ import annotations

import random
import re

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.enrich.user_agent import (
    CLIENT_PATTERNS,
    UA_FAMILIES,
    classify_user_agents,
    crawler_patterns,
    top_user_agents,
)

ENGINE = re.compile(r"AppleWebKit/|Gecko/|Trident/|Presto/")


def rows(uas: list) -> list[tuple[str, str | None]]:
    table = classify_user_agents(uas)
    return list(zip(table.column("ua_family").to_pylist(), table.column("ua_sdk").to_pylist(), strict=True))


def test_every_client_pattern_matches_its_own_example():
    got = rows([p.example for p in CLIENT_PATTERNS])
    assert got == [(p.family, p.name) for p in CLIENT_PATTERNS]
    assert {p.family for p in CLIENT_PATTERNS} == {"sdk", "cli"}


@pytest.mark.parametrize(
    ("ua", "family", "sdk"),
    [
        ("anthropic-python/0.49.0", "sdk", "anthropic-python"),  # DESIGN.md's native log example
        ("Anthropic/Python 0.40.0", "sdk", "anthropic-python"),
        ("OpenAI/Python 1.30.1", "sdk", "openai-python"),
        ("litellm/1.40.0 OpenAI/Python 1.30.1", "sdk", "litellm"),  # framework beats the SDK it wraps
        ("python-requests/2.31.0", "sdk", "python-requests"),  # also in the crawler list: client table wins
        ("curl/7.68.0", "cli", "curl"),
        ("Go-http-client/1.1", "sdk", "go-http-client"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "crawler", None),
        ("Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.1; +https://openai.com/gptbot)",
         "crawler", None),
        ("anthropic-ai", "crawler", None),  # Anthropic's crawler token, not its SDK
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0", "browser", None),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64)", "other", None),  # no engine token: not a real browser
        ("Mozilla/4.0 (compatible; MSIE 6.0)", "other", None),
        ("my-harvester/0.1", "other", None),
        ("", "empty", None),
        ("   ", "empty", None),
        (None, "empty", None),
    ],
)  # fmt: skip
def test_known_user_agents(ua, family, sdk):
    assert rows([ua]) == [(family, sdk)]


def test_shipped_browser_list_classifies_as_browser():
    uas = list(top_user_agents())
    assert len(uas) == 100
    got = rows(uas)
    with_engine = [f for ua, (f, _) in zip(uas, got, strict=True) if ENGINE.search(ua)]
    assert len(with_engine) >= 95
    assert set(with_engine) == {"browser"}


def test_shipped_crawler_instances_are_crawlers_or_named_clients():
    entries = crawler_patterns()
    assert len(entries) > 1400
    instances = [i for e in entries for i in e["instances"]]
    got = rows(instances)
    assert {f for f, _ in got} <= {"crawler", "sdk", "cli"}
    # instances the client table does not claim must all be caught by the combined crawler regexes
    assert sum(f == "crawler" for f, _ in got) > 0.95 * len(instances)
    assert all(s is None for f, s in got if f == "crawler")


def test_each_crawler_pattern_sample():
    """Sampled patterns: each pattern's own first instance is found (order of entries does not matter)."""
    entries = [e for e in crawler_patterns() if e["instances"]]
    sample = random.Random(3).sample(entries, 300)
    got = rows([e["instances"][0] for e in sample])
    assert all(f in {"crawler", "sdk", "cli"} for f, _ in got)


def test_order_types_and_schema():
    uas = ["curl/8.0", None, "Googlebot/2.1", top_user_agents()[0], "x"] * 3
    random.Random(1).shuffle(uas)
    table = classify_user_agents(uas)
    names = ["user_agent", "ua_family", "ua_sdk"]
    assert table.schema == pa.schema([(name, pa.string()) for name in names])
    assert table.column("user_agent").to_pylist() == uas
    singles = [rows([u])[0] for u in uas]
    assert rows(uas) == singles
    chunked = pa.chunked_array([pa.array(uas[:4]), pa.array(uas[4:], pa.string())])
    assert classify_user_agents(chunked).equals(table)
    assert classify_user_agents([]).num_rows == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=80)), max_size=30))
def test_never_raises_on_arbitrary_text(values):
    table = classify_user_agents(values)
    assert table.num_rows == len(values)
    assert table.column("user_agent").to_pylist() == values
    families = table.column("ua_family").to_pylist()
    assert set(families) <= set(UA_FAMILIES)
    for v, f in zip(values, families, strict=True):
        assert (f == "empty") == (v is None or v.strip() == "")
