"""OpenTelemetry GenAI spans (OTLP JSON) as native records.

What is read: one OTLP `ExportTraceServiceRequest` per line, as the OpenTelemetry Collector file exporter
writes it: `resourceSpans[].resource.attributes`, `resourceSpans[].scopeSpans[].spans[]`
(`instrumentationLibrarySpans` in old exporters), each span with hex `traceId` / `spanId`,
`startTimeUnixNano` (a decimal string), `attributes` as `[{key, value: AnyValue}]`, `events` and `status`.
One line holds many spans: each GenAI span becomes one item, a span that cannot be converted becomes a
`BadRecord`, and other spans (HTTP, database, ...) are skipped. A span is GenAI when one of its attributes or
events is named `gen_ai.*`. Agent and tool spans (`gen_ai.operation.name` = `invoke_agent`, `create_agent`,
`execute_tool`) are skipped too: the model calls they wrap are spans of their own and would count twice.

Three generations of the GenAI semantic conventions are understood, newest first:

1. attributes `gen_ai.input.messages`, `gen_ai.output.messages`, `gen_ai.system_instructions`,
   `gen_ai.tool.definitions` (parts-based messages, structured or as a JSON string);
2. OpenLLMetry / Traceloop indexed attributes `gen_ai.prompt.N.*`, `gen_ai.completion.N.*`,
   `llm.request.functions.N.*`;
3. span events `gen_ai.system|user|assistant|tool.message` and `gen_ai.choice` (semconv <= 1.36), and the
   older `gen_ai.content.prompt` / `gen_ai.content.completion` events.

Mapping: `request_id` = `otel:<traceId>:<spanId>` (unique and stable per span); `timestamp` = start time in
epoch ms; `account_id` = `user.id`, else `enduser.id` (span first, then resource). A GenAI span with neither
is a `BadRecord`: traffic that cannot be attributed to an account is useless to the detector. `client_ip` =
`client.address`, `user_agent` = `user_agent.original`, `model` = `gen_ai.request.model` (else the response
model), `endpoint` from `gen_ai.operation.name` (`chat` -> `chat/completions`, or `messages` for Anthropic).
Messages become OpenAI Chat Completions messages: tool calls become `tool_calls`, tool results `tool`
messages, images placeholder `image_url` blocks (inline bytes are never copied). `max_tokens`,
`temperature`, `top_p` and the tool definitions complete the request. The response takes the first output
message's text, tool calls, reasoning and finish reason, and `gen_ai.usage.input_tokens` / `output_tokens`
(or the older `prompt_tokens` / `completion_tokens`). `status` = `http.response.status_code`, else a numeric
`error.type`, else 500 for an ERROR span status and 200 otherwise. Everything else (trace/span ids, span
name, scope, resource, remaining attributes and events) goes to the `otel` extras.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import orjson

from distillguard.formats.base import BadRecord, RecordAdapter

MAX_EPOCH_MS = 253_402_300_799_999
MAX_VALUE_DEPTH = 32
NOT_MODEL_CALLS = frozenset({"invoke_agent", "create_agent", "execute_tool"})
MESSAGE_EVENTS = {
    "gen_ai.system.message": "system",
    "gen_ai.user.message": "user",
    "gen_ai.assistant.message": "assistant",
    "gen_ai.tool.message": "tool",
}
CONTENT_EVENTS = frozenset(
    {
        *MESSAGE_EVENTS,
        "gen_ai.choice",
        "gen_ai.content.prompt",
        "gen_ai.content.completion",
        "gen_ai.client.inference.operation.details",
    }
)
CONSUMED = frozenset(
    {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.definitions",
        "gen_ai.request.model",
        "gen_ai.request.max_tokens",
        "gen_ai.request.temperature",
        "gen_ai.request.top_p",
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.prompt_tokens",
        "gen_ai.usage.completion_tokens",
        "user.id",
        "enduser.id",
        "client.address",
        "user_agent.original",
    }
)
CONSUMED_PREFIXES = ("gen_ai.prompt.", "gen_ai.completion.", "llm.request.functions.")
ENDPOINTS = {
    "chat": "chat/completions",
    "text_completion": "completions",
    "completion": "completions",
    "embeddings": "embeddings",
}
STATUS_ERROR = (2, "STATUS_CODE_ERROR")


class OTelGenAIAdapter(RecordAdapter):
    """GenAI spans of OTLP JSON trace exports (see the module docstring)."""

    name = "otel"

    def sniff(self, record: Any) -> bool:
        return isinstance(record, dict) and isinstance(record.get("resourceSpans"), list)

    def to_native(self, record: Any) -> list[dict[str, Any] | BadRecord]:
        if not self.sniff(record):
            raise BadRecord("otel: not an OTLP trace export (no resourceSpans list)")
        items: list[dict[str, Any] | BadRecord] = []
        for index, resource_spans in enumerate(record["resourceSpans"]):
            items.extend(_resource_items(resource_spans, f"resourceSpans[{index}]"))
        return items


def _resource_items(block: Any, where: str) -> Iterator[dict[str, Any] | BadRecord]:
    """The items of one `resourceSpans` entry: a broken resource or scope costs only its own spans."""
    try:
        resource, scopes = _resource_and_scopes(block, where)
    except BadRecord as bad:
        yield bad
        return
    for s_index, scope_block in enumerate(scopes):
        if not isinstance(scope_block, dict) or not isinstance(scope_block.get("spans", []), list):
            yield BadRecord(f"otel: {where}.scopeSpans[{s_index}] is not an object with a spans list")
            continue
        scope = scope_block.get("scope") or scope_block.get("instrumentationLibrary")
        for span in scope_block.get("spans", []):
            try:
                native = _span_native(span, resource, scope)
            except BadRecord as bad:
                yield bad
                continue
            if native is not None:
                yield native


def _resource_and_scopes(block: Any, where: str) -> tuple[dict[str, Any], list[Any]]:
    """Resource attributes (shared by every span below them) and the scope blocks of one entry."""
    if not isinstance(block, dict):
        raise BadRecord(f"otel: {where} is not an object")
    resource = block.get("resource") if isinstance(block.get("resource"), dict) else {}
    scopes = block.get("scopeSpans", block.get("instrumentationLibrarySpans", []))
    if not isinstance(scopes, list):
        raise BadRecord(f"otel: {where}.scopeSpans is not a list")
    return _attributes(resource.get("attributes"), f"{where}.resource"), scopes


def _span_native(span: Any, resource: dict[str, Any], scope: Any) -> dict[str, Any] | None:
    """The native record of one span, or None when the span is not a GenAI model call."""
    if not isinstance(span, dict):
        raise BadRecord("otel: span is not an object")
    own = _attributes(span.get("attributes"), "span")
    events = _events(span.get("events"))
    if not _is_genai(own, events) or _text(own.get("gen_ai.operation.name")) in NOT_MODEL_CALLS:
        return None
    details = [e["attributes"] for e in events if e["name"] == "gen_ai.client.inference.operation.details"]
    attrs = {**resource, **(details[0] if details else {}), **own}
    trace_id, span_id = _text(span.get("traceId")), _text(span.get("spanId"))
    if trace_id is None or span_id is None:
        raise BadRecord("otel: GenAI span has no traceId/spanId")
    account = next(
        (
            v
            for v in (own.get("user.id"), own.get("enduser.id"), attrs.get("user.id"), attrs.get("enduser.id"))
            if _text(v)
        ),
        None,
    )
    if account is None:
        raise BadRecord(f"otel: span has no user.id/enduser.id (trace {trace_id}, span {span_id})")
    native: dict[str, Any] = {
        "request_id": f"otel:{trace_id}:{span_id}",
        "timestamp": _nanos_to_ms(span.get("startTimeUnixNano"), "startTimeUnixNano"),
        "account_id": account,
        "request": _request(attrs, events),
    }
    optional = {
        "client_ip": _text(attrs.get("client.address")),
        "user_agent": _text(attrs.get("user_agent.original")),
        "model": _text(attrs.get("gen_ai.request.model")) or _text(attrs.get("gen_ai.response.model")),
        "endpoint": _endpoint(attrs),
        "response": _response(attrs, events),
        "status": _status(span.get("status"), attrs),
    }
    native.update({k: v for k, v in optional.items() if v is not None})
    native["otel"] = _extras(span, own, events, resource, scope)
    return native


def _is_genai(attrs: dict[str, Any], events: list[dict[str, Any]]) -> bool:
    return any(k.startswith("gen_ai.") for k in attrs) or any(e["name"].startswith("gen_ai.") for e in events)


# -- request ------------------------------------------------------------------------------------------------


def _request(attrs: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    messages = _input_messages(attrs, events)
    system = _parts_text(_structured(attrs.get("gen_ai.system_instructions"), "gen_ai.system_instructions"))
    if system:
        messages = [{"role": "system", "content": system}, *messages]
    request: dict[str, Any] = {"messages": messages}
    for key in ("max_tokens", "temperature", "top_p"):
        value = attrs.get(f"gen_ai.request.{key}")
        if isinstance(value, int | float) and not isinstance(value, bool):
            request[key] = value
    tools = _tools(attrs)
    if tools:
        request["tools"] = tools
    return request


def _input_messages(attrs: dict[str, Any], events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Chat history from the newest convention present: parts attribute, indexed attributes, then events."""
    structured = _structured(attrs.get("gen_ai.input.messages"), "gen_ai.input.messages")
    if structured is not None:
        return [m for message in _list(structured, "gen_ai.input.messages") for m in _from_parts(message)]
    indexed = _indexed(attrs, "gen_ai.prompt")
    if indexed:
        return [_indexed_message(fields) for fields in indexed]
    return _event_messages(events)


def _from_parts(message: Any) -> list[dict[str, Any]]:
    """One parts-based message -> OpenAI messages (tool results become separate `tool` messages)."""
    if not isinstance(message, dict) or not isinstance(message.get("parts"), list):
        raise BadRecord("otel: gen_ai.input.messages item is not a {role, parts} message")
    role = _text(message.get("role")) or "user"
    blocks: list[dict[str, Any]] = []
    calls: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for part in message["parts"]:
        if not isinstance(part, dict):
            raise BadRecord("otel: message part is not an object")
        kind = part.get("type")
        if kind == "tool_call":
            calls.append(_openai_call(part.get("id"), part.get("name"), part.get("arguments")))
        elif kind == "tool_call_response":
            result = part.get("response", part.get("result"))
            results.append({"role": "tool", "tool_call_id": part.get("id"), "content": _as_text(result)})
        else:
            blocks.append(_content_block(part))
    main: dict[str, Any] = {"role": role, "content": _content(blocks)}
    if calls:
        main["tool_calls"] = calls
    return [main, *results] if (blocks or calls or not results) else results


def _content_block(part: dict[str, Any]) -> dict[str, Any]:
    """A text block, or a placeholder for media: an image keeps its URI (never inline bytes)."""
    kind = part.get("type")
    if kind in ("text", "reasoning"):
        return {"type": "text", "text": _as_text(part.get("content"))}
    modality = part.get("modality")
    if kind in ("blob", "file", "file_data", "uri") and modality == "image":
        mime = _text(part.get("mime_type")) or "image"
        url = _text(part.get("uri")) or _text(part.get("file_id")) or f"omitted:{mime}"
        return {"type": "image_url", "image_url": {"url": url}}
    return {"type": "text", "text": f"[{modality or kind} part omitted]"}


def _content(blocks: list[dict[str, Any]]) -> str | list[dict[str, Any]] | None:
    if not blocks:
        return None
    if all(b["type"] == "text" for b in blocks):
        return "\n".join(b["text"] for b in blocks)
    return blocks


def _openai_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    args = arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}


def _indexed_message(fields: dict[str, Any]) -> dict[str, Any]:
    """An OpenLLMetry `gen_ai.prompt.N.*` group as an OpenAI message (content lists arrive JSON-encoded)."""
    message: dict[str, Any] = {
        "role": _text(fields.get("role")) or "user",
        "content": _decoded(fields.get("content")),
    }
    calls = _indexed(fields, "tool_calls")
    if calls:
        message["tool_calls"] = [_openai_call(c.get("id"), c.get("name"), c.get("arguments")) for c in calls]
    if _text(fields.get("tool_call_id")):
        message["tool_call_id"] = fields["tool_call_id"]
    return message


def _event_messages(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for event in events:
        attrs = event["attributes"]
        if event["name"] == "gen_ai.content.prompt":
            prompt = _list(_structured(attrs.get("gen_ai.prompt"), "gen_ai.prompt") or [], "gen_ai.prompt")
            messages.extend(m for m in prompt if isinstance(m, dict))
        elif event["name"] in MESSAGE_EVENTS:
            messages.append(_event_message(event["name"], attrs))
    return messages


def _event_message(name: str, attrs: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": _text(attrs.get("role")) or MESSAGE_EVENTS[name],
        "content": _decoded(attrs.get("content")),
    }
    calls = _structured(attrs.get("tool_calls"), "tool_calls")
    if isinstance(calls, list) and calls:
        message["tool_calls"] = calls
    if name == "gen_ai.tool.message" and _text(attrs.get("id")):
        message["tool_call_id"] = attrs["id"]
    return message


def _tools(attrs: dict[str, Any]) -> list[Any]:
    definitions = _structured(attrs.get("gen_ai.tool.definitions"), "gen_ai.tool.definitions")
    if definitions is not None:
        return _list(definitions, "gen_ai.tool.definitions")
    return [
        {
            "type": "function",
            "function": {
                "name": f.get("name"),
                "description": f.get("description"),
                "parameters": _decoded(f.get("parameters")),
            },
        }
        for f in _indexed(attrs, "llm.request.functions")
    ]


# -- response -----------------------------------------------------------------------------------------------


def _response(attrs: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any] | None:
    output = _output(attrs, events)
    reasons = attrs.get("gen_ai.response.finish_reasons")
    if output.get("stop_reason") is None and isinstance(reasons, list) and reasons:
        output["stop_reason"] = _text(reasons[0])
    usage = {k.removeprefix("gen_ai.usage."): v for k, v in attrs.items() if k.startswith("gen_ai.usage.")}
    output["input_tokens"] = _int(usage.get("input_tokens", usage.get("prompt_tokens")))
    output["output_tokens"] = _int(usage.get("output_tokens", usage.get("completion_tokens")))
    response = {k: v for k, v in output.items() if v not in (None, [], "")}
    return response or None


def _output(attrs: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """Text, tool calls, reasoning and finish reason of the first choice (newest convention present)."""
    structured = _structured(attrs.get("gen_ai.output.messages"), "gen_ai.output.messages")
    if structured is not None:
        messages = _list(structured, "gen_ai.output.messages")
        return _output_from_parts(messages[0]) if messages else {}
    indexed = _indexed(attrs, "gen_ai.completion")
    if indexed:
        fields = indexed[0]
        return {
            "text": _message_text(_decoded(fields.get("content"))),
            "tool_calls": [_flat_call(c) for c in _indexed(fields, "tool_calls")],
            "reasoning": _text(fields.get("reasoning_content")),
            "stop_reason": _text(fields.get("finish_reason")),
        }
    return _output_from_events(events)


def _output_from_parts(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict) or not isinstance(message.get("parts"), list):
        raise BadRecord("otel: gen_ai.output.messages item is not a {role, parts} message")
    parts = [p for p in message["parts"] if isinstance(p, dict)]
    return {
        "text": "\n".join(_as_text(p.get("content")) for p in parts if p.get("type") == "text"),
        "reasoning": "\n".join(_as_text(p.get("content")) for p in parts if p.get("type") == "reasoning"),
        "tool_calls": [
            {"id": p.get("id"), "name": p.get("name"), "arguments": p.get("arguments")}
            for p in parts
            if p.get("type") == "tool_call"
        ],
        "stop_reason": _text(message.get("finish_reason")),
    }


def _output_from_events(events: list[dict[str, Any]]) -> dict[str, Any]:
    for event in events:
        attrs = event["attributes"]
        if event["name"] == "gen_ai.choice":
            message = _structured(attrs.get("message"), "gen_ai.choice message")
            message = message if isinstance(message, dict) else {}
            calls = message.get("tool_calls") if isinstance(message.get("tool_calls"), list) else []
            return {
                "text": _message_text(_decoded(message.get("content"))),
                "tool_calls": [_flat_call(c) for c in calls],
                "stop_reason": _text(attrs.get("finish_reason")),
            }
        if event["name"] == "gen_ai.content.completion":
            choices = _structured(attrs.get("gen_ai.completion"), "gen_ai.completion")
            first = choices[0] if isinstance(choices, list) and choices else None
            return {"text": _message_text(_decoded(first.get("content")))} if isinstance(first, dict) else {}
    return {}


def _flat_call(call: Any) -> dict[str, Any]:
    """A tool call as {id, name, arguments}, from OpenAI's nested `function` or OpenLLMetry's flat fields."""
    call = call if isinstance(call, dict) else {}
    function = call.get("function") if isinstance(call.get("function"), dict) else call
    return {"id": call.get("id"), "name": function.get("name"), "arguments": function.get("arguments")}


def _message_text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))
    return None


# -- status, endpoint, extras --------------------------------------------------------------------------------


def _status(status: Any, attrs: dict[str, Any]) -> int:
    for candidate in (attrs.get("http.response.status_code"), attrs.get("error.type")):
        code = _int(candidate)
        if code is not None and 100 <= code <= 599:
            return code
    code = status.get("code") if isinstance(status, dict) else None
    return 500 if code in STATUS_ERROR else 200


def _endpoint(attrs: dict[str, Any]) -> str | None:
    operation = _text(attrs.get("gen_ai.operation.name")) or _text(attrs.get("llm.request.type"))
    provider = _text(attrs.get("gen_ai.provider.name")) or _text(attrs.get("gen_ai.system")) or ""
    if operation == "chat" and provider.lower() == "anthropic":
        return "messages"
    return ENDPOINTS.get(operation or "", operation)


def _extras(
    span: dict[str, Any],
    own: dict[str, Any],
    events: list[dict[str, Any]],
    resource: dict[str, Any],
    scope: Any,
) -> dict[str, Any]:
    """What the native fields do not hold: ids, span shape, scope, resource and unmapped attributes/events."""
    scope = scope if isinstance(scope, dict) else {}
    return {
        "trace_id": span.get("traceId"),
        "span_id": span.get("spanId"),
        "parent_span_id": span.get("parentSpanId") or None,
        "name": span.get("name"),
        "kind": span.get("kind"),
        "end_time_unix_nano": span.get("endTimeUnixNano"),
        "status": span.get("status"),
        "scope": {"name": scope.get("name"), "version": scope.get("version")},
        "resource": resource,
        "attributes": {k: v for k, v in own.items() if k not in CONSUMED and not k.startswith(CONSUMED_PREFIXES)},
        "events": [e for e in events if e["name"] not in CONTENT_EVENTS],
    }


# -- OTLP JSON decoding -------------------------------------------------------------------------------------


def _attributes(value: Any, where: str, depth: int = 0) -> dict[str, Any]:
    """An OTLP `[{key, value: AnyValue}]` list as a plain dict."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise BadRecord(f"otel: {where} attributes is not a list")
    out: dict[str, Any] = {}
    for index, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise BadRecord(f"otel: {where} attribute #{index} is not a {{key, value}} pair")
        out[item["key"]] = _any_value(item.get("value"), item["key"], depth)
    return out


def _any_value(value: Any, key: str, depth: int) -> Any:
    """An OTLP JSON AnyValue; 64-bit integers arrive as decimal strings."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict) or len(value) != 1:
        raise BadRecord(f"otel: attribute {key!r} is not an AnyValue")
    if depth > MAX_VALUE_DEPTH:
        raise BadRecord(f"otel: attribute {key!r} nests deeper than {MAX_VALUE_DEPTH} levels")
    ((kind, inner),) = value.items()
    if kind in ("stringValue", "bytesValue") and isinstance(inner, str):
        return inner
    if kind == "boolValue" and isinstance(inner, bool):
        return inner
    if kind == "intValue" and _int(inner) is not None:
        return _int(inner)
    if kind == "doubleValue" and isinstance(inner, int | float) and not isinstance(inner, bool):
        return inner
    if kind == "arrayValue" and isinstance(inner, dict) and isinstance(inner.get("values", []), list):
        return [_any_value(v, key, depth + 1) for v in inner.get("values", [])]
    if kind == "kvlistValue" and isinstance(inner, dict):
        return _attributes(inner.get("values", []), f"attribute {key!r}", depth + 1)
    raise BadRecord(f"otel: attribute {key!r} has an unreadable {kind}")


def _events(value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadRecord("otel: span events is not a list")
    events = []
    for event in value:
        if not isinstance(event, dict) or not isinstance(event.get("name"), str):
            raise BadRecord("otel: span event has no name")
        events.append(
            {
                "name": event["name"],
                "time_unix_nano": event.get("timeUnixNano"),
                "attributes": _attributes(event.get("attributes"), f"event {event['name']!r}"),
            }
        )
    return events


def _indexed(attrs: dict[str, Any], prefix: str) -> list[dict[str, Any]]:
    """`prefix.N.field` attributes grouped by N, in index order."""
    pattern = re.compile(re.escape(prefix) + r"\.(\d+)\.(.+)")
    groups: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        match = pattern.fullmatch(key)
        if match and len(match[1]) < 10:
            groups.setdefault(int(match[1]), {})[match[2]] = value
    return [groups[i] for i in sorted(groups)]


def _structured(value: Any, key: str) -> Any:
    """A content attribute recorded structured or as a JSON string (both are allowed on spans)."""
    if not isinstance(value, str):
        return value
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        raise BadRecord(f"otel: {key} is a string but not valid JSON") from None


def _decoded(value: Any) -> Any:
    """OpenLLMetry JSON-encodes list contents and tool parameters; plain text stays text."""
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _list(value: Any, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise BadRecord(f"otel: {key} is not a list")
    return value


def _parts_text(value: Any) -> str | None:
    """System instructions: a list of text parts (or, leniently, a plain string)."""
    if isinstance(value, str):
        return value or None
    if isinstance(value, list):
        return "\n".join(_as_text(p.get("content")) for p in value if isinstance(p, dict)) or None
    return None


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return "" if value is None else orjson.dumps(value).decode()


def _nanos_to_ms(value: Any, field: str) -> int:
    nanos = _int(value)
    if nanos is None or not 0 <= nanos // 1_000_000 <= MAX_EPOCH_MS:
        raise BadRecord(f"otel: span has no usable {field}")
    return nanos // 1_000_000


def _int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.lstrip("-").isdigit() and len(value) < 25:
        value = int(value)
        return value if -(2**63) <= value < 2**64 else None
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
