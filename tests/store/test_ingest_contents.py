"""Message contents → user texts, images and tool results, checked against a plain-Python reading of the body.

Contents come out of the record's one parse as text and only JSON-looking ones are read again for their type
(`formats/native_sql.py`), so the cases that matter are strings that look like JSON, lists of blocks, and
contents of the wrong type, mixed within one record.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.store.ingest import ingest

JSONISH_TEXT = st.sampled_from(
    ['[{"type":"text","text":"not a block"}]', "[1, 2]", "42", "-3.5", "true", "false", "null", '{"a": 1}',
     '"quoted"', "[INST] hi", "{not json", "  padded  ", "", "line\nbreak", "é ünïcode ✓"]
)  # fmt: skip
TEXT = st.one_of(JSONISH_TEXT, st.text(max_size=30))
BLOCK = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, TEXT),
    st.just({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"}}),
    st.just({"type": "image_url", "image_url": {"url": "https://x/y.png"}}),
    st.builds(lambda t: {"type": "tool_result", "tool_use_id": "t1", "content": t}, TEXT),
)
CONTENT = st.one_of(
    TEXT, st.lists(BLOCK, max_size=4), st.integers(-5, 5), st.booleans(), st.none(), st.just({"text": "x"})
)
MESSAGE = st.fixed_dictionaries({"role": st.sampled_from(["user", "assistant", "tool"]), "content": CONTENT})


def expected(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """What the store should hold for these messages, read the obvious way."""

    def text(content: Any) -> str | None:
        if isinstance(content, str):
            return content
        if isinstance(content, list):
            return "\n".join(b["text"] for b in content if isinstance(b.get("text"), str))
        return None

    users = [t for m in messages if m["role"] == "user" and (t := text(m["content"]))]
    blocks = [b for m in messages if isinstance(m["content"], list) for b in m["content"]]
    tool_results = sum(
        1 if m["role"] == "tool" else sum(b["type"] == "tool_result" for b in m["content"])
        for m in messages
        if m["role"] == "tool" or isinstance(m["content"], list)
    )
    return {
        "first_user_message": users[0] if users else None,
        "last_user_message": users[-1] if len(users) > 1 else None,
        "user_turns": len(users),
        "message_count": len(messages),
        "image_count": sum(b["type"] in ("image", "image_url") for b in blocks),
        "tool_result_count": tool_results,
    }


_runs = itertools.count()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.lists(MESSAGE, min_size=1, max_size=5), min_size=1, max_size=25))
def test_stored_texts_match_a_plain_reading_of_every_body(tmp_path_factory, bodies: list[list[dict]]) -> None:
    root: Path = tmp_path_factory.mktemp(f"contents{next(_runs)}")
    logs = root / "logs.jsonl"
    records = [
        {"request_id": f"r{i}", "timestamp": 1_770_000_000_000 + i, "account_id": "a", "request": {"messages": m}}
        for i, m in enumerate(bodies)
    ]
    logs.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    with DuckDBAPI(root / "store.duckdb") as db:
        ingest(db, [logs])
        stored = {r["request_id"]: r for r in db.query("SELECT * FROM events").to_pylist()}
    assert len(stored) == len(records)
    for r in records:
        got = {k: stored[r["request_id"]][k] for k in expected([])}
        assert got == expected(r["request"]["messages"]), r["request"]["messages"]
