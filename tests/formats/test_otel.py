"""OTLP JSON GenAI spans -> native records."""

from __future__ import annotations

import copy
import re
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distillguard.formats.base import BadRecord
from distillguard.formats.otel import OTelGenAIAdapter
from tests.formats.adapter_checks import NATIVE_RECORD, assert_native_shape, load, mutated

ADAPTER = OTelGenAIAdapter()


LINES = load("otel_genai.jsonl")
NEW_SEMCONV, OPENLLMETRY, EVENTS = LINES


def only_span(line: dict[str, Any], span_index: int) -> dict[str, Any]:
    """The line with one span left in its first scope."""
    line = copy.deepcopy(line)
    scope = line["resourceSpans"][0]["scopeSpans"][0]
    scope["spans"] = [scope["spans"][span_index]]
    return line


def span_attribute(line: dict[str, Any], key: str, value: dict[str, Any]) -> dict[str, Any]:
    """The line with attribute `key` of its first span set to the AnyValue `value`."""
    line = copy.deepcopy(line)
    span = line["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["attributes"] = [a for a in span["attributes"] if a["key"] != key] + [{"key": key, "value": value}]
    return line


# -- sniffing ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("record", LINES)
def test_sniffs_its_own_records(record: Any) -> None:
    assert ADAPTER.sniff(record)


@pytest.mark.parametrize(
    "record",
    [
        *load("litellm_spend_logs.jsonl"),
        *load("litellm_standard_logging.jsonl"),
        *load("glasswally_events.jsonl"),
        NATIVE_RECORD,
        [],
        "x",
        None,
    ],
)
def test_does_not_sniff_other_formats(record: Any) -> None:
    assert not ADAPTER.sniff(record)


# -- current semantic conventions ----------------------------------------------------------------------------


def test_only_the_model_call_of_a_mixed_trace_becomes_a_record() -> None:
    items = ADAPTER.to_native(NEW_SEMCONV)  # HTTP span, chat span, execute_tool span
    assert [i["request_id"] for i in items] == ["otel:5b8efff798038103d269b633813fc60c:eee19b7ec3c1b174"]


def test_new_semconv_span_maps_field_by_field() -> None:
    [native] = ADAPTER.to_native(NEW_SEMCONV)
    assert native["timestamp"] == 1_770_127_509_123
    assert native["account_id"] == "acct_42"
    assert native["client_ip"] == "203.0.113.9"
    assert native["user_agent"] == "OpenAI/Python 1.54.0"
    assert native["model"] == "gpt-4o"
    assert native["endpoint"] == "chat/completions"
    assert native["status"] == 200
    request = native["request"]
    assert request["max_tokens"] == 1024
    assert request["temperature"] == 0.2
    assert [t["name"] for t in request["tools"]] == ["run_sql", "plot"]
    system, user, assistant, tool = request["messages"]
    assert system == {
        "role": "system",
        "content": "You are an expert data analyst. Give complete and transparent reasoning.",
    }
    assert user["content"] == [
        {"type": "text", "text": "Here is last quarter's dashboard. Which region grew fastest?"},
        {"type": "image_url", "image_url": {"url": "omitted:image/png"}},  # the blob's bytes are not copied
    ]
    assert assistant["tool_calls"] == [
        {
            "id": "call_VSPygqKTWdrhaFErNvMV18Yl",
            "type": "function",
            "function": {"name": "run_sql", "arguments": '{"query":"SELECT region, growth FROM q3"}'},
        }
    ]
    assert tool == {"role": "tool", "tool_call_id": "call_VSPygqKTWdrhaFErNvMV18Yl", "content": "EMEA 14%, APAC 9%"}
    assert native["response"] == {
        "text": "EMEA grew fastest at 14%.",
        "tool_calls": [{"id": "call_2", "name": "plot", "arguments": {"region": "EMEA"}}],
        "stop_reason": "tool_call",
        "input_tokens": 812,
        "output_tokens": 96,
    }
    extras = native["otel"]
    assert extras["resource"]["service.name"] == "support-bot"
    assert extras["scope"] == {"name": "opentelemetry.instrumentation.openai_v2", "version": "2.1b0"}
    assert extras["attributes"]["gen_ai.response.model"] == "gpt-4o-2024-08-06"
    assert extras["attributes"]["gen_ai.conversation.id"] == "conv_5j66UpCpwteGg4YSxUnt7lPY"
    assert "gen_ai.input.messages" not in extras["attributes"]
    assert [e["name"] for e in extras["events"]] == ["gen_ai.client.first_token"]


def test_tool_call_result_is_read_under_its_older_name_too() -> None:
    messages = [{"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "result": "42"}]}]
    value = {"stringValue": orjson.dumps(messages).decode()}
    line = span_attribute(only_span(NEW_SEMCONV, 1), "gen_ai.input.messages", value)
    [native] = ADAPTER.to_native(line)
    assert native["request"]["messages"][1:] == [{"role": "tool", "tool_call_id": "c1", "content": "42"}]


# -- OpenLLMetry indexed attributes ---------------------------------------------------------------------------


def test_openllmetry_span_maps_field_by_field() -> None:
    [native] = ADAPTER.to_native(OPENLLMETRY)
    assert native["request_id"] == "otel:0af7651916cd43dd8448eb211c80319c:b7ad6b7169203331"
    assert native["timestamp"] == 1_770_130_800_000
    assert native["account_id"] == "acct_77"  # enduser.id on the resource
    assert native["endpoint"] == "messages"  # chat with Anthropic
    assert native["model"] == "claude-sonnet-4-5"
    system, user = native["request"]["messages"]
    assert system == {"role": "system", "content": "You are a research assistant."}
    assert user["content"][1]["type"] == "image"  # the JSON-encoded content list is decoded
    assert native["request"]["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "web_search",
                "description": "Search the web",
                "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
            },
        }
    ]
    assert native["response"] == {
        "text": "The chart shows steady growth; let me verify with a search.",
        "tool_calls": [{"id": "toolu_01", "name": "web_search", "arguments": '{"q": "2025 revenue growth"}'}],
        "stop_reason": "tool_use",
        "input_tokens": 1500,
        "output_tokens": 420,
    }
    assert native["otel"]["attributes"]["llm.usage.total_tokens"] == 1920
    assert not any(k.startswith("gen_ai.prompt.") for k in native["otel"]["attributes"])


# -- span events, errors, bad spans -----------------------------------------------------------------------------


def test_event_style_spans_and_a_bad_sibling() -> None:
    events_span, anonymous, rate_limited, legacy = ADAPTER.to_native(EVENTS)
    assert events_span["request"]["messages"] == [
        {"role": "system", "content": "You are a patient tutor."},
        {"role": "user", "content": "Why is the sky blue?"},
    ]
    assert events_span["response"] == {
        "text": "Rayleigh scattering.",
        "stop_reason": "stop",
        "input_tokens": 33,
        "output_tokens": 12,
    }
    assert isinstance(anonymous, BadRecord)
    assert str(anonymous).startswith("otel: span has no user.id/enduser.id")
    assert rate_limited["status"] == 429  # numeric error.type wins over the generic ERROR status
    assert rate_limited["request"] == {"messages": []}  # content capture was off
    assert rate_limited["otel"]["events"][0]["name"] == "exception"
    assert legacy["account_id"] == "acct_10"
    assert legacy["request"]["messages"] == [{"role": "user", "content": "Say hi"}]
    assert legacy["response"] == {"text": "Hi!", "input_tokens": 20, "output_tokens": 7}


def test_error_status_without_a_code_is_500() -> None:
    line = only_span(EVENTS, 2)
    span = line["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["attributes"] = [a for a in span["attributes"] if a["key"] != "error.type"]
    [native] = ADAPTER.to_native(line)
    assert native["status"] == 500


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        (
            "gen_ai.input.messages",
            {"stringValue": "[{not json"},
            "otel: gen_ai.input.messages is a string but not valid JSON",
        ),
        (
            "gen_ai.request.max_tokens",
            {"intValue": "many"},
            "otel: attribute 'gen_ai.request.max_tokens' has an unreadable intValue",
        ),
        (
            "gen_ai.input.messages",
            {"stringValue": '[{"role": "user"}]'},
            "otel: gen_ai.input.messages item is not a {role, parts} message",
        ),
    ],
)
def test_a_broken_span_is_a_bad_record_with_a_reason(key: str, value: dict[str, Any], reason: str) -> None:
    line = only_span(NEW_SEMCONV, 1)
    line["resourceSpans"][0]["scopeSpans"][0]["spans"].append(
        copy.deepcopy(NEW_SEMCONV["resourceSpans"][0]["scopeSpans"][0]["spans"][1])
    )
    broken = span_attribute(line, key, value)
    bad, good = ADAPTER.to_native(broken)
    assert isinstance(bad, BadRecord) and str(bad) == reason
    assert isinstance(good, dict)


def test_a_record_that_is_not_an_export_is_rejected() -> None:
    with pytest.raises(BadRecord, match=re.escape("otel: not an OTLP trace export (no resourceSpans list)")):
        ADAPTER.to_native({"resourceLogs": []})


# -- robustness ----------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(LINES))
def test_mutated_records_only_ever_fail_as_bad_records(data: st.DataObject, record: Any) -> None:
    changed = mutated(data, record)
    assert isinstance(ADAPTER.sniff(changed), bool)
    try:
        items = ADAPTER.to_native(changed)
    except BadRecord:
        return
    for item in items:
        assert isinstance(item, dict | BadRecord)
        if isinstance(item, dict):
            assert_native_shape(item)
