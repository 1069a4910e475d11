"""Glasswally events -> native records."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distillguard.formats.base import BadRecord
from distillguard.formats.glasswally import GlasswallyAdapter
from tests.formats.adapter_checks import NATIVE_RECORD, assert_native_shape, load, mutated

ADAPTER = GlasswallyAdapter()


EVENTS = load("glasswally_events.jsonl")
API_EVENT, CAMPAIGN_EVENT, EMPTY_PROMPT, LOGGEN_BENIGN, LOGGEN_DISTILL, NO_ACCOUNT = EVENTS
GOOD = EVENTS[:-1]


def one(record: Any) -> dict[str, Any]:
    [native] = ADAPTER.to_native(record)
    assert isinstance(native, dict)
    return native


# -- sniffing ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("record", GOOD)
def test_sniffs_its_own_records(record: Any) -> None:
    assert ADAPTER.sniff(record)


@pytest.mark.parametrize(
    "record",
    [
        *load("litellm_spend_logs.jsonl"),
        *load("litellm_standard_logging.jsonl"),
        *load("otel_genai.jsonl"),
        NATIVE_RECORD,
        {**NATIVE_RECORD, "prompt": "hi", "ja3_hash": "x"},
        [],
        "x",
        None,
    ],
)
def test_does_not_sniff_other_formats(record: Any) -> None:
    assert not ADAPTER.sniff(record)


# -- mapping -------------------------------------------------------------------------------------------------


def test_api_event_maps_field_by_field() -> None:
    native = one(API_EVENT)
    assert native["request_id"] == "req-4c1d9e2f7a3b5c60"
    assert native["timestamp"] == "2026-03-01T12:00:00.273192+00:00"
    assert native["account_id"] == "sk-3a9f0c2e7b1d4f6a8c0e2b4d"
    assert native["org_id"] == "org_7"
    assert native["client_ip"] == "203.0.113.9"
    assert native["user_agent"] == API_EVENT["user_agent"]
    assert native["tls_fingerprint"] == "15969ac511e49090ef54030739c919bc"  # JA3
    assert native["model"] == "claude-3-5-sonnet"
    assert native["request"] == {
        "messages": [{"role": "user", "content": "Compare two approaches to caching in a web API."}],
        "max_tokens": 256,
    }
    assert "response" not in native and "status" not in native
    extras = native["glasswally"]
    assert extras["h2_settings"]["fingerprint"] == "84f521f29f027919a58201d293e757c0"
    assert extras["header_order"][:2] == ["host", "connection"]
    assert extras["payment_method_hash"] == "e072f4ed5ec6562b"
    assert extras["asn_number"] == 5089 and extras["country_code"] == "GB"
    assert extras["token_count"] == 215
    assert not {"prompt", "ip_address", "ja3_hash", "account_id"} & extras.keys()


def test_campaign_event_keeps_its_label_and_fingerprints() -> None:
    native = one(CAMPAIGN_EVENT)
    assert "org_id" not in native  # null org
    assert native["glasswally"]["campaign_label"] == "campaign_0002"
    assert native["glasswally"]["ja3s_hash"] == "f4febc55ea12b31ae17cfb7e614afda8"
    assert native["glasswally"]["tls_library"] == "OpenSsl"


def test_empty_prompt_still_counts_with_no_messages() -> None:
    assert one(EMPTY_PROMPT)["request"] == {"messages": [], "max_tokens": 256}


def test_loggen_event_gets_a_stable_derived_id_and_its_system_prompt() -> None:
    native = one(LOGGEN_DISTILL)
    assert native["request_id"].startswith("glasswally:") and len(native["request_id"]) == 11 + 32
    assert native["request_id"] == one(copy.deepcopy(LOGGEN_DISTILL))["request_id"]
    assert native["request_id"] != one(LOGGEN_BENIGN)["request_id"]
    assert native["client_ip"] == "45.77.10.20"
    assert native["request"]["system"].startswith("Act as an AI teacher.")
    assert native["request"]["max_tokens"] == 65536
    assert native["glasswally"]["h2_settings_fp"] == "2:4242:3:100:4:65535:5:16384"
    assert "system" not in one(LOGGEN_BENIGN)["request"]  # system_prompt null


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (NO_ACCOUNT, "glasswally: no account_id"),
        ({**API_EVENT, "timestamp": 1772366400}, "glasswally: no timestamp"),
        ({k: v for k, v in API_EVENT.items() if k != "prompt"}, "glasswally: no prompt"),
        (["not", "an", "event"], "glasswally: event is not a JSON object"),
    ],
)
def test_unusable_events_are_rejected_with_a_reason(record: Any, reason: str) -> None:
    with pytest.raises(BadRecord) as caught:
        ADAPTER.to_native(record)
    assert str(caught.value) == reason


# -- robustness ----------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data(), st.sampled_from(GOOD))
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
