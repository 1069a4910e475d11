"""Shared by the adapter tests: random mutations of a parsed record, and the shape every native record has."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
from hypothesis import strategies as st

FIXTURES = Path(__file__).parents[1] / "fixtures" / "formats"

NATIVE_RECORD = {
    "request_id": "req_01",
    "timestamp": "2026-02-03T14:05:09.123Z",
    "account_id": "acct_42",
    "request": {"messages": [{"role": "user", "content": "hi"}]},
}


def load(name: str) -> list[Any]:
    return [orjson.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line.strip()]


JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return [path] + [p for key, child in children for p in _paths(child, (*path, key))]


def mutated(data: st.DataObject, record: Any) -> Any:
    """The record with 1-4 random changes: a key or item dropped, a value retyped, a string truncated."""
    record = copy.deepcopy(record)
    for _ in range(data.draw(st.integers(1, 4))):
        path = data.draw(st.sampled_from(_paths(record)))
        op = data.draw(st.sampled_from(["drop", "retype", "truncate"]))
        if not path:
            record = data.draw(JSON_VALUES) if op == "retype" else record
            continue
        parent = record
        for key in path[:-1]:
            parent = parent[key]
        value = parent[path[-1]]
        if op == "drop":
            del parent[path[-1]]
        elif op == "retype":
            parent[path[-1]] = data.draw(JSON_VALUES)
        elif isinstance(value, str):
            parent[path[-1]] = value[: data.draw(st.integers(0, len(value)))]
    return record


def assert_native_shape(item: dict[str, Any]) -> None:
    """What DESIGN §3.1 promises of every native record: required fields present and typed, JSON-encodable."""
    assert isinstance(item["request_id"], str) and item["request_id"]
    assert isinstance(item["account_id"], str) and item["account_id"]
    assert isinstance(item["timestamp"], int | str) and not isinstance(item["timestamp"], bool)
    assert isinstance(item["request"], dict) and isinstance(item["request"]["messages"], list)
    for key in ("org_id", "api_key_id", "client_ip", "user_agent", "tls_fingerprint", "model", "endpoint"):
        assert isinstance(item.get(key, ""), str)
    assert isinstance(item.get("status", 0), int)
    assert isinstance(item.get("response", {}), dict)
    orjson.dumps(item)
