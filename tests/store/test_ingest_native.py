"""Native records (DESIGN §3.1) → `events`, field by field."""

from __future__ import annotations

import ipaddress
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.enrich.network import NetworkClassifier
from distillguard.store.ingest import IngestSummary, ingest

TS = "2026-02-03T14:05:09.123Z"
T_14_05_09_123 = datetime(2026, 2, 3, 14, 5, 9, 123000)


def record(request_id: Any = "req_01", **fields: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "request_id": request_id,
        "timestamp": TS,
        "account_id": "acct_42",
        "request": {"messages": [{"role": "user", "content": "hello"}]},
    }
    rec.update(fields)
    return rec


def body(**fields: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": "hello"}], **fields}


class Store:
    """One ingest of records into a fresh file store under tmp_path."""

    def __init__(self, tmp_path: Path, records: list[dict[str, Any]], *, fmt: str = "auto") -> None:
        self.path = tmp_path / "logs.jsonl"
        self.path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
        with DuckDBAPI(tmp_path / "store.duckdb") as db:
            self.summary: IngestSummary = ingest(db, [self.path], fmt=fmt)
            self.events = {r["request_id"]: r for r in db.query("SELECT * FROM events").to_pylist()}
            self.quarantine = db.query("SELECT * FROM quarantine").to_pylist()

    def one(self, request_id: str = "req_01") -> dict[str, Any]:
        assert self.quarantine == [], self.quarantine
        return self.events[request_id]


def ingest_one(tmp_path: Path, rec: dict[str, Any], *, fmt: str = "auto") -> dict[str, Any]:
    return Store(tmp_path, [rec], fmt=fmt).one(str(rec["request_id"]))


# -- envelope ------------------------------------------------------------------------------------------------


def test_the_design_example_record_field_by_field(tmp_path: Path) -> None:
    rec = {
        "request_id": "req_01",
        "timestamp": "2026-02-03T14:05:09.123Z",
        "account_id": "acct_42",
        "org_id": "org_7",
        "api_key_id": "key_3",
        "client_ip": "203.0.113.9",
        "user_agent": "anthropic-python/0.49.0",
        "tls_fingerprint": "t13d1516h2_8daaf6152771_b0da82dd1658",
        "model": "frontier-2",
        "endpoint": "messages",
        "request": {
            "system": "You are terse.",
            "messages": [{"role": "user", "content": "What is 2+2?"}],
            "tools": [],
            "max_tokens": 4096,
            "temperature": 0.7,
            "stream": True,
        },
        "response": {"text": "Four.", "input_tokens": 812, "output_tokens": 2044, "stop_reason": "end_turn"},
        "status": 200,
    }
    store = Store(tmp_path, [rec])
    e = store.one()
    assert e["ts"] == T_14_05_09_123
    expected = {
        "account_id": "acct_42",
        "org_id": "org_7",
        "api_key_id": "key_3",
        "client_ip": "203.0.113.9",
        "user_agent": "anthropic-python/0.49.0",
        "tls_fingerprint": "t13d1516h2_8daaf6152771_b0da82dd1658",
        "model": "frontier-2",
        "endpoint": "messages",
        "body_dialect": "anthropic",
        "system_prompt": "You are terse.",
        "first_user_message": "What is 2+2?",
        "last_user_message": None,  # single turn: the first is the last (docs/store.md)
        "message_count": 1,
        "user_turns": 1,
        "tool_result_count": 0,
        "image_count": 0,
        "max_tokens": 4096,
        "temperature": 0.7,
        "stream": True,
        "input_tokens": 812,
        "output_tokens": 2044,
        "stop_reason": "end_turn",
        "status": 200,
        "response_chars": len("Four."),
        "source_format": "native",
        "source_file": str(store.path.resolve()),
        "source_line": 1,
        "ingest_run_id": store.summary.run_id,
    }
    assert {k: e[k] for k in expected} == expected
    assert not e["tool_names"]
    assert not e["warnings"]
    assert not orjson.loads(e["extra"] or "{}")
    [f] = store.summary.files
    assert (f.format, f.lines_read, f.events_added, f.quarantined) == ("native", 1, 1, 0)


def test_integer_ids_are_stored_as_their_decimal_text(tmp_path: Path) -> None:
    e = ingest_one(tmp_path, record(request_id=90071992547, account_id=42))
    assert e["request_id"] == "90071992547"
    assert e["account_id"] == "42"


def test_source_line_counts_every_physical_line(tmp_path: Path) -> None:
    path = tmp_path / "logs.jsonl"
    path.write_bytes(
        orjson.dumps(record("a")) + b"\n\n\n" + orjson.dumps(record("b")) + b"\n" + orjson.dumps(record("c")) + b"\n"
    )
    with DuckDBAPI(tmp_path / "store.duckdb") as db:
        ingest(db, [path])
        lines = {r["request_id"]: r["source_line"] for r in db.query("SELECT * FROM events").to_pylist()}
    assert lines == {"a": 1, "b": 4, "c": 5}


# -- Anthropic Messages bodies ---------------------------------------------------------------------------------


def test_anthropic_system_as_string(tmp_path: Path) -> None:
    e = ingest_one(tmp_path, record(request=body(system="Be brief.")))
    assert e["system_prompt"] == "Be brief."
    assert e["body_dialect"] == "anthropic"


def test_anthropic_system_as_block_list(tmp_path: Path) -> None:
    system = [
        {"type": "text", "text": "You are an expert data analyst."},
        {"type": "text", "text": "Give complete reasoning.", "cache_control": {"type": "ephemeral"}},
    ]
    e = ingest_one(tmp_path, record(request=body(system=system)))
    assert e["system_prompt"] == "You are an expert data analyst.\nGive complete reasoning."
    assert e["body_dialect"] == "anthropic"


def test_no_system_prompt_is_null(tmp_path: Path) -> None:
    assert ingest_one(tmp_path, record())["system_prompt"] is None


def test_content_as_string_and_as_text_blocks(tmp_path: Path) -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "part one"}, {"type": "text", "text": "part two"}]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": "plain string"},
    ]
    e = ingest_one(tmp_path, record(request={"messages": messages}))
    assert e["first_user_message"] == "part one\npart two"
    assert e["last_user_message"] == "plain string"
    assert e["message_count"] == 3
    assert e["user_turns"] == 2


@pytest.mark.parametrize(
    "text", ['[{"type":"text","text":"not a block"}]', "[1, 2]", "42", "true", '{"a": 1}', '"quoted"', "null"]
)
def test_a_string_content_that_reads_as_json_stays_that_text(tmp_path: Path, text: str) -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "a real block"}]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": text},
    ]
    e = ingest_one(tmp_path, record(request={"messages": messages}))
    assert (e["first_user_message"], e["last_user_message"]) == ("a real block", text)


def test_non_string_non_list_contents_have_no_text(tmp_path: Path) -> None:
    messages = [{"role": "user", "content": c} for c in (42, {"text": "x"}, None, True)]
    e = ingest_one(tmp_path, record(request={"messages": [*messages, {"role": "user", "content": "last"}]}))
    assert (e["first_user_message"], e["last_user_message"], e["user_turns"]) == ("last", None, 1)


def test_anthropic_tool_use_and_tool_result_blocks(tmp_path: Path) -> None:
    tools = [
        {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}},
        {"name": "run_sql", "input_schema": {"type": "object"}},
    ]
    messages = [
        {"role": "user", "content": "Weather in Paris and in Rome?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "tu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "tu_2", "name": "get_weather", "input": {"city": "Rome"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "tu_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "tu_2", "content": [{"type": "text", "text": "21C"}]},
            ],
        },
    ]
    e = ingest_one(tmp_path, record(request={"tools": tools, "messages": messages}))
    assert e["body_dialect"] == "anthropic"
    assert e["tool_names"] == ["get_weather", "run_sql"]
    assert e["tool_result_count"] == 2
    assert e["message_count"] == 3
    # A user message holding only tool results is not a human turn.
    assert e["first_user_message"] == "Weather in Paris and in Rome?"
    assert e["user_turns"] == 1
    assert e["last_user_message"] is None  # single human turn: the first is the last


def test_anthropic_images_are_counted_as_placeholders(tmp_path: Path) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    messages = [
        {"role": "user", "content": [image, image, {"type": "text", "text": "What differs?"}]},
        {"role": "assistant", "content": "The colour."},
        {"role": "user", "content": [{"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]},
    ]
    e = ingest_one(tmp_path, record(request={"messages": messages}))
    assert e["image_count"] == 3
    assert e["first_user_message"] == "What differs?"
    assert "iVBORw0KGgo" not in (e["first_user_message"] or "")


# -- OpenAI Chat Completions bodies ----------------------------------------------------------------------------


def test_openai_system_and_developer_messages_become_the_system_prompt(tmp_path: Path) -> None:
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
        {"role": "user", "content": "Hi"},
    ]
    e = ingest_one(tmp_path, record(request={"model": "gpt-4o", "messages": messages}))
    assert e["body_dialect"] == "openai"
    assert e["system_prompt"] == "You are helpful.\nAnswer in French."
    assert e["first_user_message"] == "Hi"
    assert e["last_user_message"] is None
    assert e["message_count"] == 3
    assert e["user_turns"] == 1
    assert e["model"] == "gpt-4o"  # from the body when the envelope has none


def test_openai_function_tools_and_tool_role_messages(tmp_path: Path) -> None:
    tools = [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}},
        {"type": "function", "function": {"name": "lookup_stock"}},
    ]
    messages = [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "18C"},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "21C"}]},
        {"role": "user", "content": "Thanks, and tomorrow?"},
    ]
    e = ingest_one(tmp_path, record(request={"tools": tools, "messages": messages}))
    assert e["body_dialect"] == "openai"
    assert e["tool_names"] == ["get_weather", "lookup_stock"]
    assert e["tool_result_count"] == 2
    assert e["first_user_message"] == "Weather?"
    assert e["last_user_message"] == "Thanks, and tomorrow?"
    assert e["user_turns"] == 2
    assert e["message_count"] == 5


def test_openai_image_url_parts_are_counted(tmp_path: Path) -> None:
    content = [
        {"type": "text", "text": "Describe both."},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "low"}},
    ]
    e = ingest_one(
        tmp_path,
        record(request={"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": content}]}),
    )
    assert e["image_count"] == 2
    assert e["first_user_message"] == "Describe both."


def test_openai_response_choices_give_response_chars(tmp_path: Path) -> None:
    response = {"choices": [{"message": {"role": "assistant", "content": "Bonjour!"}}]}
    assert ingest_one(tmp_path, record(response=response))["response_chars"] == len("Bonjour!")


def test_anthropic_response_content_blocks_give_response_chars(tmp_path: Path) -> None:
    response = {"content": [{"type": "text", "text": "abc"}, {"type": "text", "text": "de"}], "input_tokens": 5}
    e = ingest_one(tmp_path, record(response=response))
    assert e["response_chars"] == 5
    assert e["input_tokens"] == 5


def test_multi_turn_first_and_last_user_message(tmp_path: Path) -> None:
    messages = []
    for i in range(1, 5):
        messages += [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]
    messages.append({"role": "user", "content": "question 5"})
    e = ingest_one(tmp_path, record(request={"system": "s", "messages": messages}))
    assert e["first_user_message"] == "question 1"
    assert e["last_user_message"] == "question 5"
    assert e["user_turns"] == 5
    assert e["message_count"] == 9


def test_envelope_model_wins_over_body_model(tmp_path: Path) -> None:
    e = ingest_one(tmp_path, record(model="frontier-2", request=body(model="gpt-4o")))
    assert e["model"] == "frontier-2"


# -- timestamps ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        ("2026-02-03T14:05:09.123Z", T_14_05_09_123),
        ("2026-02-03T14:05:09Z", datetime(2026, 2, 3, 14, 5, 9)),
        ("2026-02-03T14:05:09.123456Z", datetime(2026, 2, 3, 14, 5, 9, 123456)),
        ("2026-02-03T16:05:09.123+02:00", T_14_05_09_123),
        ("2026-02-03T08:35:09.123-05:30", T_14_05_09_123),
        ("2026-02-03T14:05:09.123+00:00", T_14_05_09_123),
        ("2026-02-03T23:30:00-01:00", datetime(2026, 2, 4, 0, 30)),  # the UTC day is the next one
        ("2026-02-03T14:05:09.123", T_14_05_09_123),  # no zone: UTC
        (1_770_127_509_123, T_14_05_09_123),  # epoch milliseconds
    ],
)
def test_timestamps_are_stored_as_utc(tmp_path: Path, timestamp: Any, expected: datetime) -> None:
    e = ingest_one(tmp_path, record(timestamp=timestamp))
    assert e["ts"] == expected
    assert e["ts"].tzinfo is None


@pytest.fixture
def host_zone_auckland():
    before = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Auckland"
    time.tzset()
    yield
    if before is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = before
    time.tzset()


@pytest.mark.usefixtures("host_zone_auckland")
def test_timestamps_do_not_depend_on_the_host_time_zone(tmp_path: Path) -> None:
    store = Store(
        tmp_path,
        [
            record("z", timestamp="2026-02-03T14:05:09.123Z"),
            record("offset", timestamp="2026-02-03T16:05:09.123+02:00"),
            record("naive", timestamp="2026-02-03T14:05:09.123"),
            record("epoch", timestamp=1_770_127_509_123),
        ],
    )
    assert {k: v["ts"] for k, v in store.events.items()} == dict.fromkeys(
        ("z", "offset", "naive", "epoch"), T_14_05_09_123
    )


# -- extra fields, warnings ----------------------------------------------------------------------------------


def test_unknown_top_level_fields_are_kept_in_extra(tmp_path: Path) -> None:
    unknown = {
        "region": "eu-west-1",
        "latency_ms": 812,
        "billing": {"plan": "education", "seats": [1, 2]},
        "flag": None,
        'odd "key".with.dots': True,
        "clé": "valeur",
    }
    e = ingest_one(tmp_path, record(org_id="org_7", **unknown))
    assert orjson.loads(e["extra"]) == unknown
    assert e["org_id"] == "org_7"


@pytest.mark.parametrize("key", ["", "*", "C:\\temp\\"], ids=["empty key", "star", "trailing backslash"])
def test_any_unknown_key_is_kept_in_extra(tmp_path: Path, key: str) -> None:
    e = ingest_one(tmp_path, record(**{key: 1}))
    assert orjson.loads(e["extra"]) == {key: 1}


def test_any_unknown_account_key_is_kept_in_extra(tmp_path: Path) -> None:
    logs = tmp_path / "logs.jsonl"
    logs.write_bytes(orjson.dumps(record()) + b"\n")
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_bytes(b'{"account_id": "acct_42", "": 1}\n')
    with DuckDBAPI(tmp_path / "store.duckdb") as db:
        ingest(db, [logs], accounts=[accounts])
        [row] = db.query("SELECT extra FROM accounts").to_pylist()
    assert orjson.loads(row["extra"]) == {"": 1}


def test_no_unknown_fields_means_empty_extra(tmp_path: Path) -> None:
    assert not orjson.loads(ingest_one(tmp_path, record(status=200))["extra"] or "{}")


def test_optional_fields_of_the_wrong_type_become_null_with_a_warning(tmp_path: Path) -> None:
    rec = record(
        status="abc",
        request=body(max_tokens="lots", temperature="warm"),
        response={"text": "hi", "input_tokens": "x", "output_tokens": 7},
    )
    e = ingest_one(tmp_path, rec)
    assert e["status"] is None
    assert e["input_tokens"] is None
    assert e["max_tokens"] is None
    assert e["temperature"] is None
    assert e["output_tokens"] == 7  # the well-typed neighbour is kept
    assert e["first_user_message"] == "hello"
    warnings = " | ".join(e["warnings"])
    assert len(e["warnings"]) == 4
    for name, value in (("status", "abc"), ("input_tokens", "x"), ("max_tokens", "lots"), ("temperature", "warm")):
        assert name in warnings and value in warnings


def test_numeric_strings_are_accepted_for_numeric_fields(tmp_path: Path) -> None:
    e = ingest_one(tmp_path, record(status="429", response={"input_tokens": "812"}))
    assert (e["status"], e["input_tokens"]) == (429, 812)
    assert not e["warnings"]


def test_a_non_integral_number_for_an_integer_field_is_not_rounded(tmp_path: Path) -> None:
    e = ingest_one(tmp_path, record(status=200.7, response={"input_tokens": 812.5}))
    assert e["status"] is None
    assert e["input_tokens"] is None
    assert len(e["warnings"]) == 2


def test_an_object_given_for_an_optional_text_field_becomes_null_with_a_warning(tmp_path: Path) -> None:
    e = ingest_one(tmp_path, record(org_id={"id": "org_7"}, model=["a", "b"]))
    assert e["org_id"] is None
    assert e["model"] is None
    assert len(e["warnings"]) == 2


# -- --format pins the body dialect --------------------------------------------------------------------------


def test_a_body_with_no_dialect_marker_is_unknown_under_auto(tmp_path: Path) -> None:
    assert ingest_one(tmp_path, record())["body_dialect"] == "unknown"


@pytest.mark.parametrize("fmt", ["openai", "anthropic"])
def test_format_pins_body_dialect(tmp_path: Path, fmt: str) -> None:
    # Markers of the *other* dialect do not override a pinned one.
    rec = record(
        request=body(system="s")
        if fmt == "openai"
        else {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]}
    )
    e = ingest_one(tmp_path, rec, fmt=fmt)
    assert e["body_dialect"] == fmt


@pytest.mark.parametrize("fmt", ["openai", "anthropic"])
def test_cli_format_option_pins_body_dialect(tmp_path: Path, fmt: str) -> None:
    logs = tmp_path / "logs.jsonl"
    logs.write_bytes(orjson.dumps(record()) + b"\n")
    db = tmp_path / "store.duckdb"
    result = CliRunner().invoke(app, ["ingest", str(logs), "--db", str(db), "--format", fmt])
    assert result.exit_code == 0, result.output
    with DuckDBAPI(db, read_only=True) as store:
        assert store.query("SELECT body_dialect FROM events").to_pylist() == [{"body_dialect": fmt}]


# -- enrichment ----------------------------------------------------------------------------------------------


def an_address(ip_class: str) -> tuple[str, str | None]:
    """An IPv4 address inside the shipped ranges of one class, and its provider."""
    lo, hi, providers = NetworkClassifier.default().ranges(ip_class)
    i = len(lo) // 2
    return str(ipaddress.IPv4Address(int(lo[i]) + (int(hi[i]) - int(lo[i])) // 2)), providers[i]


def prefix24(ip: str) -> str:
    return str(ipaddress.ip_network(f"{ip}/24", strict=False))


@pytest.mark.parametrize("ip_class", ["tor", "vpn", "cloud", "datacenter"])
def test_client_ip_is_classified_from_the_shipped_ranges(tmp_path: Path, ip_class: str) -> None:
    ip, provider = an_address(ip_class)
    e = ingest_one(tmp_path, record(client_ip=ip))
    assert (e["ip_class"], e["ip_version"], e["ip_prefix"]) == (ip_class, 4, prefix24(ip))
    assert e["ip_provider"] == provider
    if ip_class == "cloud":
        assert provider


def test_documentation_and_private_addresses_are_private(tmp_path: Path) -> None:
    store = Store(
        tmp_path,
        [
            record("doc", client_ip="203.0.113.9"),
            record("rfc1918", client_ip="10.1.2.3"),
            record("v6doc", client_ip="2001:db8:abcd:12::1"),
        ],
    )
    assert {k: (v["ip_class"], v["ip_prefix"], v["ip_version"]) for k, v in store.events.items()} == {
        "doc": ("private", "203.0.113.0/24", 4),
        "rfc1918": ("private", "10.1.2.0/24", 4),
        "v6doc": ("private", "2001:db8:abcd::/48", 6),
    }


def test_unparsable_and_missing_addresses(tmp_path: Path) -> None:
    store = Store(tmp_path, [record("bad", client_ip="999.1.2.3"), record("none")])
    assert store.events["bad"]["ip_class"] == "invalid"
    assert store.events["bad"]["client_ip"] == "999.1.2.3"
    assert store.events["none"]["ip_class"] is None
    assert store.events["none"]["client_ip"] is None


def test_same_address_in_many_requests_is_classified_the_same(tmp_path: Path) -> None:
    ip, _ = an_address("tor")
    store = Store(tmp_path, [record(f"r{i}", client_ip=ip) for i in range(50)])
    assert {v["ip_class"] for v in store.events.values()} == {"tor"}
    assert len(store.events) == 50


@pytest.mark.parametrize(
    ("user_agent", "family", "sdk"),
    [
        ("anthropic-python/0.49.0", "sdk", "anthropic-python"),
        ("OpenAI/Python 1.55.0", "sdk", "openai-python"),
        ("curl/8.5.0", "cli", "curl"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
            "browser",
            None,
        ),
        ("", "empty", None),
    ],
)
def test_user_agent_family(tmp_path: Path, user_agent: str, family: str, sdk: str | None) -> None:
    e = ingest_one(tmp_path, record(user_agent=user_agent))
    assert (e["ua_family"], e["ua_sdk"]) == (family, sdk)
    assert e["user_agent"] == user_agent


# -- Parquet -------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("host_zone_auckland")
@pytest.mark.parametrize(
    "ts_type",
    [pa.timestamp("ms"), pa.timestamp("ms", tz="UTC"), pa.timestamp("us", tz="Europe/Paris"), pa.int64(), pa.string()],
    ids=str,
)
def test_parquet_with_typed_columns(tmp_path: Path, ts_type: pa.DataType) -> None:
    """Parquet with the native columns: typed timestamps, integer ids, `request` as JSON text."""
    utc = T_14_05_09_123.replace(tzinfo=UTC)
    value = {
        pa.int64(): 1_770_127_509_123,
        pa.string(): "2026-02-03T14:05:09.123Z",
    }.get(ts_type, utc)
    anthropic = {"system": "s", "messages": [{"role": "user", "content": "nested"}], "max_tokens": 5}
    table = pa.table(
        {
            "request_id": pa.array([1, 2], pa.int64()),
            "timestamp": pa.array([value, value], ts_type),
            "account_id": ["acct_1", "acct_2"],
            "request": [orjson.dumps(anthropic).decode(), orjson.dumps(body(system="t")).decode()],
            "status": pa.array([200, None], pa.int32()),
            "region": ["eu", None],
        }
    )
    path = tmp_path / "logs.parquet"
    pq.write_table(table, path)
    with DuckDBAPI(tmp_path / "store.duckdb") as db:
        summary = ingest(db, [path])
        events = {r["request_id"]: r for r in db.query("SELECT * FROM events").to_pylist()}
    assert summary.files[0].format == "native"
    assert set(events) == {"1", "2"}
    assert {e["ts"] for e in events.values()} == {T_14_05_09_123}
    assert (events["1"]["first_user_message"], events["1"]["system_prompt"], events["1"]["max_tokens"]) == (
        "nested",
        "s",
        5,
    )
    assert events["1"]["status"] == 200
    assert orjson.loads(events["1"]["extra"]) == {"region": "eu"}


def test_parquet_with_a_nested_request_column(tmp_path: Path) -> None:
    rows = [
        record("p1", request={"system": "s", "messages": [{"role": "user", "content": "one"}]}),
        record("p2", request={"system": "s", "messages": [{"role": "user", "content": "two"}]}),
    ]
    path = tmp_path / "logs.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    with DuckDBAPI(tmp_path / "store.duckdb") as db:
        ingest(db, [path])
        got = db.query("SELECT request_id, first_user_message, system_prompt FROM events ORDER BY 1").to_pylist()
    assert got == [
        {"request_id": "p1", "first_user_message": "one", "system_prompt": "s"},
        {"request_id": "p2", "first_user_message": "two", "system_prompt": "s"},
    ]
