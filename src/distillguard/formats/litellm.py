"""LiteLLM proxy logs as native records.

What is read (one JSON value per line):

* a ``LiteLLM_SpendLogs`` row (BerriAI/litellm ``schema.prisma``), either as a database export (JSON columns
  ``metadata``, ``messages``, ``response``, ``proxy_server_request``, ``request_tags`` arrive as JSON-encoded
  strings; ``startTime`` is a Postgres ``timestamp(3)`` without zone, stored in UTC) or as the proxy's
  ``/spend/logs`` API returns it (JSON columns as objects, ISO timestamps with a zone);
* a page of ``/spend/logs/ui`` (``{"data": [rows], "total", "page", ...}``) or a JSON array of rows: one item
  per row, so a bad row does not sink its page;
* a ``StandardLoggingPayload`` (what LiteLLM custom loggers and the s3 / gcs bucket loggers write): ``id``,
  ``startTime`` in epoch seconds, ``metadata.user_api_key_*``, ``messages``, ``model_parameters``,
  ``response``.

Mapping decisions:

* ``account_id`` = ``end_user``, else the key owner ``user`` (``user_api_key_user_id``), else the hashed
  ``api_key``. LiteLLM documents ``end_user`` as "Customer - the `user` sent in the request": when an operator
  runs a multi-tenant gateway that is the customer who could be a distillation account. Without it, the
  internal user owning the key is the next most specific person, and the hashed key is always present for
  authenticated calls. ``end_user`` is client-supplied, so the key hash always goes to ``api_key_id`` and the
  other identities stay in the ``litellm`` extras: linkage can still tie end users that share a key.
* ``org_id`` = ``team_id`` (a customer company is usually a LiteLLM team), else ``organization_id``.
* ``api_key_id`` = the hashed ``api_key`` (``metadata.user_api_key_hash`` in a payload); ``client_ip`` =
  ``requester_ip_address``; ``user_agent`` = ``metadata.user_agent`` (payloads of recent LiteLLM versions;
  spend-log metadata does not keep it).
* ``endpoint`` from ``call_type`` (``acompletion`` -> ``chat/completions``, ``anthropic_messages`` ->
  ``messages``, ...); unknown call types are kept verbatim.
* ``request`` = the client's body from ``proxy_server_request`` (the ``proxy_server_request`` column, or
  ``metadata.proxy_server_request`` in older versions) with its ``messages``, ``tools``, ``max_tokens``; else
  the ``messages`` column (payload: ``messages`` + ``model_parameters``). A text-completion ``prompt`` or an
  embeddings / Responses ``input`` becomes user messages. LiteLLM stores no content unless
  ``store_prompts_in_spend_logs`` is on; such rows get ``{"messages": []}`` so their timing, tokens and
  identities still count.
* ``response``: ``choices[0].message.content`` (or ``choices[0].text``; Anthropic ``content`` blocks), tool
  calls as ``tool_calls``, ``reasoning_content`` / thinking as ``reasoning``, ``finish_reason`` /
  ``stop_reason`` as ``stop_reason``; token counts from ``prompt_tokens`` / ``completion_tokens``. A response
  of another shape is kept raw in the extras (embedding vectors are not).
* ``status``: ``success`` -> 200; ``failure`` -> ``error_information.error_code`` when it is an HTTP code,
  else 500.
* ``timestamp`` = ``startTime`` as epoch milliseconds (a zone-less time is UTC, as LiteLLM writes it).
* ``model`` = ``model_group`` (the name the client asked for), else ``model`` (the deployment).

Everything else of the row (spend, cache, tags, team, session, decoded metadata, ...) goes to ``litellm``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from distillguard.formats.base import BadRecord, RecordAdapter

MAX_EPOCH_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
EMBEDDING_CALLS = frozenset({"embedding", "aembedding"})
ENDPOINTS = {
    "completion": "chat/completions",
    "acompletion": "chat/completions",
    "text_completion": "completions",
    "atext_completion": "completions",
    "anthropic_messages": "messages",
    "responses": "responses",
    "aresponses": "responses",
    "embedding": "embeddings",
    "aembedding": "embeddings",
}
SPEND_LOG_CONSUMED = frozenset(
    {
        "request_id",
        "startTime",
        "messages",
        "response",
        "proxy_server_request",
        "requester_ip_address",
        "api_key",
        "prompt_tokens",
        "completion_tokens",
        "metadata",
        "request_tags",
    }
)
PAYLOAD_CONSUMED = frozenset(
    {
        "id",
        "startTime",
        "messages",
        "response",
        "model_parameters",
        "requester_ip_address",
        "prompt_tokens",
        "completion_tokens",
    }
)


class LiteLLMSpendLogAdapter(RecordAdapter):
    """LiteLLM spend-log rows, spend-log pages and StandardLoggingPayloads (see the module docstring)."""

    name = "litellm"

    def sniff(self, record: Any) -> bool:
        rows = _page_rows(record)
        if rows is None:
            return _kind(record) is not None
        return bool(rows) and _kind(rows[0]) is not None

    def to_native(self, record: Any) -> list[dict[str, Any] | BadRecord]:
        rows = _page_rows(record)
        if rows is None:
            return [_convert(record)]
        return [_convert_or_bad(row) for row in rows]


def _page_rows(record: Any) -> list[Any] | None:
    """The rows of a `/spend/logs/ui` page or a JSON array of rows; None for a single row."""
    if isinstance(record, list):
        return record
    is_page = isinstance(record, dict) and ("total" in record or "page" in record)
    if is_page and isinstance(record.get("data"), list):
        return record["data"]
    return None


def _kind(row: Any) -> str | None:
    """'spend_log', 'payload' or None: both shapes carry `call_type`, and differ in their id field."""
    if not isinstance(row, dict) or "call_type" not in row:
        return None
    if "request_id" in row:
        return "spend_log"
    if "id" in row and ({"model_parameters", "hidden_params", "response_cost"} & row.keys()):
        return "payload"
    return None


def _convert_or_bad(row: Any) -> dict[str, Any] | BadRecord:
    """A row of a page: its failure becomes an item, so the other rows of the page are kept."""
    try:
        return _convert(row)
    except BadRecord as bad:
        return bad


def _convert(row: Any) -> dict[str, Any]:
    kind = _kind(row)
    if kind == "spend_log":
        return _from_spend_log(row)
    if kind == "payload":
        return _from_payload(row)
    raise BadRecord("litellm: neither a LiteLLM_SpendLogs row (request_id, call_type) nor a StandardLoggingPayload")


def _from_spend_log(row: dict[str, Any]) -> dict[str, Any]:
    """One `LiteLLM_SpendLogs` row; `metadata` carries the key's team/org/user and the error details."""
    meta = _json_object(row.get("metadata"), "metadata")
    api_key = _first(row.get("api_key"), meta.get("user_api_key"))
    extras = {k: v for k, v in row.items() if k not in SPEND_LOG_CONSUMED}
    extras["metadata"] = {k: v for k, v in meta.items() if k != "proxy_server_request"}
    if "request_tags" in row:
        extras["request_tags"] = _json_value(row["request_tags"], "request_tags")
    account = _first(row.get("end_user"), row.get("user"), api_key)
    native = _native(
        row,
        request_id=_required(row.get("request_id"), "request_id"),
        account_id=_required(account, "end_user, user or api_key"),
        request=_spend_log_request(row, meta),
        extras=extras,
    )
    optional = {
        "org_id": _first(
            row.get("team_id"),
            meta.get("user_api_key_team_id"),
            row.get("organization_id"),
            meta.get("user_api_key_org_id"),
        ),
        "api_key_id": api_key,
        "client_ip": _first(row.get("requester_ip_address"), meta.get("requester_ip_address")),
        "status": _status(_first(row.get("status"), meta.get("status")), meta.get("error_information")),
    }
    return _with_optional(native, optional)


def _from_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """One `StandardLoggingPayload`: identities sit in `metadata.user_api_key_*`, times in epoch seconds."""
    meta = _json_object(payload.get("metadata"), "metadata")
    account = _first(
        payload.get("end_user"),
        meta.get("user_api_key_end_user_id"),
        meta.get("user_api_key_user_id"),
        meta.get("user_api_key_hash"),
    )
    params = _json_object(payload.get("model_parameters"), "model_parameters")
    messages = _as_messages(_json_value(payload.get("messages"), "messages"))
    native = _native(
        payload,
        request_id=_required(payload.get("id"), "id"),
        account_id=_required(account, "end_user or metadata.user_api_key_* identity"),
        request={**params, "messages": messages or []},
        extras={k: v for k, v in payload.items() if k not in PAYLOAD_CONSUMED},
    )
    optional = {
        "org_id": _first(meta.get("user_api_key_team_id"), meta.get("team_id"), meta.get("user_api_key_org_id")),
        "api_key_id": _first(meta.get("user_api_key_hash")),
        "client_ip": _first(payload.get("requester_ip_address"), meta.get("requester_ip_address")),
        "user_agent": _first(meta.get("user_agent")),
        "status": _status(_first(payload.get("status")), payload.get("error_information")),
    }
    return _with_optional(native, optional)


def _native(
    record: dict[str, Any],
    *,
    request_id: str,
    account_id: str,
    request: dict[str, Any],
    extras: dict[str, Any],
) -> dict[str, Any]:
    """The fields both shapes keep under the same names: start time, model, call type, response, tokens."""
    call_type = _first(record.get("call_type"))
    raw_response = _json_value(record.get("response"), "response")
    response, unparsed = _response(
        raw_response, call_type, record.get("prompt_tokens"), record.get("completion_tokens")
    )
    if unparsed is not None:
        extras["response"] = unparsed
    native: dict[str, Any] = {
        "request_id": request_id,
        "timestamp": _epoch_ms(record.get("startTime"), "startTime"),
        "account_id": account_id,
        "request": request,
    }
    optional = {
        "model": _first(record.get("model_group"), record.get("model")),
        "endpoint": ENDPOINTS.get(call_type or "", call_type),
        "response": response,
    }
    _with_optional(native, optional)
    native["litellm"] = extras
    return native


def _with_optional(native: dict[str, Any], optional: dict[str, Any]) -> dict[str, Any]:
    native.update({k: v for k, v in optional.items() if v is not None})
    return native


def _spend_log_request(row: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The client's request body: proxy_server_request (column, then metadata), else the messages column."""
    sources = (
        ("proxy_server_request", row.get("proxy_server_request")),
        ("metadata.proxy_server_request", meta.get("proxy_server_request")),
    )
    for field, raw in sources:
        body = _json_object(raw, field)
        messages = _as_messages(body.get("messages")) or _as_messages(body.get("input") or body.get("prompt"))
        if messages is not None:
            return {**body, "messages": messages}
    return {"messages": _as_messages(_json_value(row.get("messages"), "messages")) or []}


def _as_messages(value: Any) -> list[dict[str, Any]] | None:
    """Chat messages from a messages list, a prompt string, or a list of prompt strings / message objects."""
    if isinstance(value, dict):
        value = value.get("messages")
    if isinstance(value, str):
        return [{"role": "user", "content": value}] if value else None
    if not isinstance(value, list) or not value:
        return None
    messages = []
    for item in value:
        if isinstance(item, dict):
            messages.append(item)
        elif isinstance(item, str):
            messages.append({"role": "user", "content": item})
        else:
            return None
    return messages


def _response(
    raw: Any, call_type: str | None, prompt_tokens: Any, completion_tokens: Any
) -> tuple[dict[str, Any] | None, Any]:
    """(native response, raw response to keep in the extras when its shape was not understood)."""
    parsed = _parse_response(raw)
    unparsed = None
    if not parsed and raw not in (None, {}, "", []) and call_type not in EMBEDDING_CALLS:
        unparsed = raw
    fields = {**parsed, "input_tokens": _int(prompt_tokens), "output_tokens": _int(completion_tokens)}
    response = {k: v for k, v in fields.items() if v is not None}
    return response or None, unparsed


def _parse_response(raw: Any) -> dict[str, Any]:
    """Response fields from an OpenAI (chat or text) completion or an Anthropic message; {} for other shapes."""
    if isinstance(raw, str):
        return {"text": raw} if raw else {}
    if not isinstance(raw, dict):
        return {}
    choices = raw.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return _openai_choice(choices[0])
    if isinstance(raw.get("content"), list):
        return _anthropic_message(raw)
    return {}


def _openai_choice(choice: dict[str, Any]) -> dict[str, Any]:
    message = choice.get("message")
    out: dict[str, Any] = {"stop_reason": _first(choice.get("finish_reason"))}
    if not isinstance(message, dict):
        out["text"] = _first(choice.get("text"))
        return _compact(out)
    out["text"] = _content_text(message.get("content"))
    out["reasoning"] = _first(message.get("reasoning_content"))
    calls = message.get("tool_calls")
    if isinstance(calls, list):
        out["tool_calls"] = [_openai_tool_call(c) for c in calls if isinstance(c, dict)] or None
    return _compact(out)


def _openai_tool_call(call: dict[str, Any]) -> dict[str, Any]:
    function = call.get("function") if isinstance(call.get("function"), dict) else {}
    return {"id": call.get("id"), "name": function.get("name"), "arguments": function.get("arguments")}


def _anthropic_message(raw: dict[str, Any]) -> dict[str, Any]:
    blocks = [b for b in raw["content"] if isinstance(b, dict)]
    texts = [b["text"] for b in blocks if b.get("type") == "text" and isinstance(b.get("text"), str)]
    thoughts = [b["thinking"] for b in blocks if isinstance(b.get("thinking"), str)]
    calls = [
        {"id": b.get("id"), "name": b.get("name"), "arguments": b.get("input")}
        for b in blocks
        if b.get("type") == "tool_use"
    ]
    return _compact(
        {
            "text": "\n".join(texts) or None,
            "reasoning": "\n".join(thoughts) or None,
            "tool_calls": calls or None,
            "stop_reason": _first(raw.get("stop_reason")),
        }
    )


def _content_text(content: Any) -> str | None:
    """A message's text: a string, or the text parts of a content-part list."""
    if isinstance(content, str):
        return content or None
    if isinstance(content, list):
        texts = [p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)]
        return "\n".join(texts) or None
    return None


def _status(state: str | None, error_information: Any) -> int | None:
    if state == "success":
        return 200
    if state != "failure":
        return None
    info = _json_object(error_information, "error_information")
    code = _int(info.get("error_code"))
    return code if code is not None and 100 <= code <= 599 else 500


def _epoch_ms(value: Any, field: str) -> int:
    """Epoch milliseconds from an ISO string (zone-less = UTC) or epoch seconds (StandardLoggingPayload)."""
    ms: int | None = None
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        ms = int(value) if value > 1e11 else int(value * 1000)  # above 1e11 it is already milliseconds
    elif isinstance(value, str):
        ms = _iso_ms(value)
    if ms is None or not 0 <= ms <= MAX_EPOCH_MS:
        raise BadRecord(f"litellm: {field} {_short(value)} is not a timestamp")
    return ms


def _iso_ms(value: str) -> int | None:
    try:
        parsed = datetime.fromisoformat(value.strip())
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return int(parsed.timestamp() * 1000)
    except (ValueError, OverflowError):
        return None


def _json_value(value: Any, field: str) -> Any:
    """A JSON column: decoded when it arrives as a JSON-encoded string.

    A string that decodes to another JSON document (a double-encoded export) is decoded once more; if that
    inner string is not JSON it is plain text and stays a string.
    """
    if not _looks_like_json(value):
        return value
    try:
        value = orjson.loads(value)
    except orjson.JSONDecodeError:
        raise BadRecord(f"litellm: {field} is a string but not valid JSON") from None
    if _looks_like_json(value):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _looks_like_json(value: Any) -> bool:
    return isinstance(value, str) and value.lstrip()[:1] in ("{", "[", '"')


def _json_object(value: Any, field: str) -> dict[str, Any]:
    decoded = _json_value(value, field)
    return decoded if isinstance(decoded, dict) else {}


def _required(value: Any, field: str) -> str:
    text = _first(value)
    if text is None:
        raise BadRecord(f"litellm: no {field}")
    return text


def _first(*values: Any) -> str | None:
    """The first non-empty string, else None: LiteLLM writes "" for absent identities, and they fall back."""
    return next((v for v in values if isinstance(v, str) and v), None)


def _int(value: Any) -> int | None:
    """An integer, or a decimal string of one (`error_code` is stored as text); bools are not counts."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.strip().isdigit() and len(value) < 20:
        return int(value)
    return None


def _compact(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _short(value: Any) -> str:
    """A value quoted in a quarantine reason, cut so one bad field cannot flood the reason column."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
