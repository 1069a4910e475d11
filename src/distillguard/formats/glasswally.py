"""Glasswally detector events as native records.

Glasswally (github.com/m0rs3c0d3/Glasswally) reads JSON Lines of its `ApiEvent` struct
(`glasswally/src/events.rs`, deserialised with serde in `main.rs` tail/replay modes): one API request per line
with `request_id`, `account_id`, `timestamp` (RFC 3339, chrono), `ip_address`, `user_agent`, `model`, `prompt`
(the last user message only), `token_count`, `max_tokens`, `org_id`, and network fingerprints (`ja3_hash`,
`ja3s_hash`, `h2_settings`, `tls_library`, `header_order`, `asn_number`, `asn_org`, `country_code`) plus
`payment_method_hash`, `system_prompt_hash` and a ground-truth `campaign_label`. Its log generator
(`tools/loggen.py`) writes a lighter variant of the same events: no `request_id`, `client_ip` instead of
`ip_address`, the `system_prompt` text, and `h2_settings_fp`.

Mapping: `ip_address` / `client_ip` -> `client_ip`; `ja3_hash` (the TLS ClientHello fingerprint) ->
`tls_fingerprint`; `prompt` -> one user message, `system_prompt` -> `request.system`, `max_tokens` ->
`request.max_tokens`. `token_count` is kept but not mapped: Glasswally fills it from the prompt in its samples
and from `max_tokens` in its HTTP reconstruction, so it is neither input nor output tokens. Every field not
mapped (fingerprints, ASN, country, payment hash, campaign label, ...) goes to the `glasswally` extras.

A loggen event has no `request_id`; it gets `glasswally:` + a SHA-256 of account, timestamp and prompt, so the
same line always gets the same id and ingest stays idempotent.
"""

from __future__ import annotations

import hashlib
from typing import Any

from distillguard.formats.base import BadRecord, RecordAdapter

MAPPED = frozenset(
    {
        "request_id",
        "account_id",
        "timestamp",
        "ip_address",
        "client_ip",
        "user_agent",
        "model",
        "prompt",
        "system_prompt",
        "max_tokens",
        "org_id",
        "ja3_hash",
    }
)
GLASSWALLY_ONLY = frozenset(
    {
        "ja3_hash",
        "ja3s_hash",
        "header_order",
        "h2_settings",
        "h2_settings_fp",
        "tls_library",
        "asn_number",
        "asn_org",
        "payment_method_hash",
        "system_prompt_hash",
        "campaign_label",
        "token_count",
        "country_code",
    }
)


class GlasswallyAdapter(RecordAdapter):
    """Glasswally `ApiEvent` lines and `tools/loggen.py` lines (see the module docstring)."""

    name = "glasswally"

    def sniff(self, record: Any) -> bool:
        return (
            isinstance(record, dict)
            and isinstance(record.get("prompt"), str)
            and "account_id" in record
            and "request" not in record
            and bool(GLASSWALLY_ONLY & record.keys())
        )

    def to_native(self, record: Any) -> list[dict[str, Any] | BadRecord]:
        if not isinstance(record, dict):
            raise BadRecord("glasswally: event is not a JSON object")
        account_id = _required(record, "account_id")
        timestamp = _required(record, "timestamp")
        prompt = record.get("prompt")
        if not isinstance(prompt, str):
            raise BadRecord("glasswally: no prompt")
        native: dict[str, Any] = {
            "request_id": _text(record.get("request_id")) or _derived_id(account_id, timestamp, prompt),
            "timestamp": timestamp,
            "account_id": account_id,
            "request": _request(record, prompt),
        }
        optional = {
            "org_id": _text(record.get("org_id")),
            "client_ip": _text(record.get("ip_address")) or _text(record.get("client_ip")),
            "user_agent": _text(record.get("user_agent")),
            "tls_fingerprint": _text(record.get("ja3_hash")),
            "model": _text(record.get("model")),
        }
        native.update({k: v for k, v in optional.items() if v is not None})
        native["glasswally"] = {k: v for k, v in record.items() if k not in MAPPED}
        return [native]


def _request(record: dict[str, Any], prompt: str) -> dict[str, Any]:
    """Glasswally keeps only the last user prompt, so the request is one user message (plus the system text).

    An empty prompt (Glasswally could not extract one) leaves the messages empty: the event still counts.
    """
    request: dict[str, Any] = {"messages": [{"role": "user", "content": prompt}] if prompt else []}
    system = _text(record.get("system_prompt"))
    if system is not None:
        request["system"] = system
    max_tokens = record.get("max_tokens")
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool):
        request["max_tokens"] = max_tokens
    return request


def _derived_id(account_id: str, timestamp: str, prompt: str) -> str:
    digest = hashlib.sha256("\x1f".join((account_id, timestamp, prompt)).encode())
    return "glasswally:" + digest.hexdigest()[:32]


def _required(record: dict[str, Any], field: str) -> str:
    value = _text(record.get(field))
    if value is None:
        raise BadRecord(f"glasswally: no {field}")
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
