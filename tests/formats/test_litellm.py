"""LiteLLM spend logs and StandardLoggingPayloads -> native records."""

from __future__ import annotations

import copy
import re
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distillguard.formats.base import BadRecord
from distillguard.formats.litellm import LiteLLMSpendLogAdapter
from tests.formats.adapter_checks import NATIVE_RECORD, assert_native_shape, load, mutated

ADAPTER = LiteLLMSpendLogAdapter()
KEY_A = "88dc28d0f030c55ed4ab77ed8faf098196cb1c05df778539800c9f1243fe6b4b"
KEY_B = "151e85e46ab8c9c7fad090793e3fe87940213f6ae665b543ca633b0b85ba6dc6"
T_14_05_09_123 = 1_770_127_509_123  # 2026-02-03T14:05:09.123Z


SPEND_LOGS = load("litellm_spend_logs.jsonl")
PAYLOADS = load("litellm_standard_logging.jsonl")
DB_ROW, API_ROW, FAILURE_ROW, LEGACY_ROW, PAGE = SPEND_LOGS
CHAT, ANTHROPIC, FAILED_PAYLOAD = PAYLOADS


def one(record: Any) -> dict[str, Any]:
    [native] = ADAPTER.to_native(record)
    assert isinstance(native, dict)
    return native


# -- sniffing ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("record", SPEND_LOGS + PAYLOADS)
def test_sniffs_its_own_records(record: Any) -> None:
    assert ADAPTER.sniff(record)


@pytest.mark.parametrize(
    "record", [*load("otel_genai.jsonl"), *load("glasswally_events.jsonl"), NATIVE_RECORD, [], {}, "x", None]
)
def test_does_not_sniff_other_formats(record: Any) -> None:
    assert not ADAPTER.sniff(record)


# -- LiteLLM_SpendLogs rows ----------------------------------------------------------------------------------


def test_database_export_row_maps_field_by_field() -> None:
    native = one(DB_ROW)
    assert native["request_id"] == "chatcmpl-6dcb2540-d3d7-4e49-bb27-291f863f112e"
    assert native["timestamp"] == T_14_05_09_123  # zone-less Postgres time read as UTC
    assert native["account_id"] == "cust-42"  # end_user wins over the key owner and the key
    assert native["org_id"] == "team-acme"
    assert native["api_key_id"] == KEY_A
    assert native["client_ip"] == "203.0.113.9"
    assert native["model"] == "gpt-4o"  # model_group: what the client asked for
    assert native["endpoint"] == "chat/completions"
    assert native["status"] == 200
    request = native["request"]
    assert [m["role"] for m in request["messages"]] == ["system", "user"]
    assert request["max_tokens"] == 4096
    assert request["tools"][0]["function"]["name"] == "run_sql"
    assert native["response"] == {
        "text": "Let me query the sales table first.",
        "tool_calls": [
            {
                "id": "call_VSPygqKTWdrhaFErNvMV18Yl",
                "name": "run_sql",
                "arguments": '{"query": "SELECT region, sum(total) FROM sales GROUP BY 1"}',
            }
        ],
        "stop_reason": "tool_calls",
        "input_tokens": 812,
        "output_tokens": 96,
    }
    extras = native["litellm"]
    assert extras["spend"] == 0.0021875
    assert extras["user"] == "internal-user-7"
    assert extras["metadata"]["user_api_key_team_alias"] == "Acme Analytics"  # decoded from its JSON string
    assert extras["request_tags"] == ["jobID:214590dsff09fds", "taskName:run_page_classification"]
    assert "proxy_server_request" not in extras and "messages" not in extras


def test_api_row_without_stored_prompts_still_counts() -> None:
    native = one(API_ROW)
    assert native["timestamp"] == 1_770_127_560_500
    assert native["account_id"] == "internal-user-9"  # end_user is "": the key owner is next
    assert native["request"] == {"messages": []}
    assert native["response"] == {"input_tokens": 40, "output_tokens": 82}
    assert native["api_key_id"] == KEY_B
    assert native["model"] == "claude-sonnet"
    assert "org_id" not in native
    assert native["litellm"]["custom_llm_provider"] == "anthropic"


def test_failed_call_takes_the_provider_status_code() -> None:
    native = one(FAILURE_ROW)
    assert native["status"] == 429
    assert native["request"]["messages"] == [{"role": "user", "content": "Rewrite this answer step by step."}]
    assert native["litellm"]["metadata"]["error_information"]["error_class"] == "RateLimitError"


def test_failure_without_an_http_code_is_500() -> None:
    row = copy.deepcopy(FAILURE_ROW)
    row["metadata"]["error_information"]["error_code"] = "context_length_exceeded"
    assert one(row)["status"] == 500


def test_legacy_row_reads_the_messages_column_and_falls_back_to_the_key() -> None:
    native = one(LEGACY_ROW)
    assert native["account_id"] == KEY_B  # no end_user, no user: the hashed key
    assert native["org_id"] == "team-vision"
    content = native["request"]["messages"][0]["content"]
    assert content[1] == {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
    assert native["response"]["text"] == "A bar chart of quarterly revenue by region."
    assert native["timestamp"] == 1_749_628_803_250


def test_a_bad_row_of_a_page_does_not_sink_its_sibling() -> None:
    good, bad = ADAPTER.to_native(PAGE)
    assert isinstance(good, dict) and good["account_id"] == "cust-7"
    assert isinstance(bad, BadRecord) and str(bad) == "litellm: no end_user, user or api_key"


def test_a_json_array_of_rows_is_read_row_by_row() -> None:
    items = ADAPTER.to_native([DB_ROW, {"request_id": "x"}])
    assert items[0]["request_id"] == DB_ROW["request_id"]
    assert isinstance(items[1], BadRecord) and "neither a LiteLLM_SpendLogs row" in str(items[1])


def test_double_encoded_json_columns_are_decoded() -> None:
    row = dict(DB_ROW, metadata=orjson.dumps(DB_ROW["metadata"]).decode())
    assert one(row)["org_id"] == "team-acme"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"request_id": ""}, "litellm: no request_id"),
        ({"startTime": "yesterday"}, "litellm: startTime 'yesterday' is not a timestamp"),
        ({"startTime": None}, "litellm: startTime None is not a timestamp"),
        ({"metadata": "{truncated"}, "litellm: metadata is a string but not valid JSON"),
    ],
)
def test_unusable_rows_are_rejected_with_a_reason(change: dict[str, Any], reason: str) -> None:
    with pytest.raises(BadRecord, match=f"^{re.escape(reason)}$"):
        ADAPTER.to_native({**DB_ROW, **change})


# -- StandardLoggingPayload ---------------------------------------------------------------------------------


def test_standard_logging_payload_maps_field_by_field() -> None:
    native = one(CHAT)
    assert native["request_id"] == "chatcmpl-2f1e0d9c-8b7a-4c6d-9e8f-7a6b5c4d3e2f"
    assert native["timestamp"] == T_14_05_09_123  # epoch seconds as a float
    assert native["account_id"] == "cust-42"
    assert native["org_id"] == "team-acme"
    assert native["api_key_id"] == KEY_A
    assert native["client_ip"] == "203.0.113.9"
    assert native["user_agent"] == "OpenAI/Python 1.54.0"
    assert native["model"] == "gpt-4o"
    assert native["endpoint"] == "chat/completions"
    assert native["status"] == 200
    assert native["request"]["max_tokens"] == 512
    assert native["request"]["tools"][0]["function"]["name"] == "run_sql"
    assert native["request"]["messages"][0]["role"] == "system"
    assert native["response"] == {
        "text": "Score: 9/10. Correct and clear.",
        "reasoning": "The answer states the power rule result correctly.",
        "stop_reason": "stop",
        "input_tokens": 812,
        "output_tokens": 122,
    }
    assert native["litellm"]["trace_id"] == "7c1f3a2e-5b4d-4e6f-8a9b-0c1d2e3f4a5b"
    assert native["litellm"]["metadata"]["user_api_key_alias"] == "reseller-key-3"
    assert "model_parameters" not in native["litellm"]


def test_anthropic_messages_payload_reads_content_blocks() -> None:
    native = one(ANTHROPIC)
    assert native["account_id"] == "u-anthro"  # no end user: the key owner
    assert native["endpoint"] == "messages"
    assert native["user_agent"] == "anthropic-python/0.49.0"
    assert native["response"]["text"] == "The bug is in add: it subtracts."
    assert native["response"]["reasoning"] == "add subtracts instead of adding."
    assert native["response"]["tool_calls"] == [
        {"id": "toolu_01B", "name": "edit_file", "arguments": {"path": "utils.py", "old": "a - b", "new": "a + b"}}
    ]
    assert native["response"]["stop_reason"] == "tool_use"
    assert native["request"]["messages"][2]["content"][0]["type"] == "tool_result"


def test_failed_payload_keeps_its_prompt_and_code() -> None:
    native = one(FAILED_PAYLOAD)
    assert native["status"] == 400
    assert native["request"]["messages"] == [{"role": "user", "content": FAILED_PAYLOAD["messages"]}]
    assert native["litellm"]["error_str"].startswith("litellm.BadRequestError")


def test_unknown_response_shapes_are_kept_raw() -> None:
    payload = dict(CHAT, response={"output": [{"type": "message"}]})
    native = one(payload)
    assert native["litellm"]["response"] == {"output": [{"type": "message"}]}
    assert "text" not in native["response"]


# -- robustness ----------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(SPEND_LOGS + PAYLOADS))
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
