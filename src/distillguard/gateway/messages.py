"""Reading Anthropic Messages and OpenAI Chat Completions bodies: the request's prompts, the response's text.

The gateway only needs a few fields, so this is a handful of dict look-ups, never a schema validation: the
upstream API stays the judge of what a valid request is. What the gateway itself refuses (400) is only what
it cannot work with: a body that is not a JSON object, or one without a list of message objects.
"""

from __future__ import annotations

from typing import Any

import orjson


class BadRequest(ValueError):
    """The body cannot be proxied; `kind` is the machine-readable error type."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def endpoint_of(path: str) -> str | None:
    """`messages` or `chat/completions` for the inference endpoints the gateway inspects, else None."""
    path = path.rstrip("/")
    if path.endswith("/messages") or path == "messages":
        return "messages"
    if path.endswith("/chat/completions") or path == "chat/completions":
        return "chat/completions"
    return None


def parse_request(raw: bytes) -> dict[str, Any]:
    """The JSON object of an inference request, or BadRequest."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise BadRequest("invalid_json", f"request body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise BadRequest("invalid_request", "request body must be a JSON object")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise BadRequest("invalid_request", "`messages` must be a non-empty list of message objects")
    return body


def text_of(content: Any) -> str:
    """Text of a content value: a string, or the text of a list of content blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))
    return ""


def prompts(body: dict[str, Any]) -> tuple[str, str]:
    """(system prompt, last user message) of an Anthropic or OpenAI body."""
    system = text_of(body.get("system"))
    last_user = ""
    for m in body["messages"]:
        role = m.get("role")
        if role in ("system", "developer") and not system:
            system = text_of(m.get("content"))
        elif role == "user":
            last_user = text_of(m.get("content"))
    return system, last_user


def response_summary(body: Any) -> dict[str, Any]:
    """`{"text", "input_tokens", "output_tokens", "stop_reason"}` of a non-streamed response body."""
    if not isinstance(body, dict):
        return {}
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    if isinstance(body.get("choices"), list):  # OpenAI
        first = body["choices"][0] if body["choices"] and isinstance(body["choices"][0], dict) else {}
        message = first.get("message") if isinstance(first.get("message"), dict) else {}
        return _summary(
            text_of(message.get("content")),
            usage.get("prompt_tokens"),
            usage.get("completion_tokens"),
            first.get("finish_reason"),
        )
    blocks = body.get("content") if isinstance(body.get("content"), list) else []
    text = "".join(
        b["text"] for b in blocks if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    )
    return _summary(text, usage.get("input_tokens"), usage.get("output_tokens"), body.get("stop_reason"))


def stream_summary(raw: bytes) -> dict[str, Any]:
    """The same summary from a whole server-sent-event stream (Anthropic or OpenAI events)."""
    parts: list[str] = []
    tokens_in = tokens_out = stop = None
    for line in raw.splitlines():
        if not line.startswith(b"data:"):
            continue
        payload = line[5:].strip()
        if not payload or payload == b"[DONE]":
            continue
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(event, dict):
            continue
        message = event.get("message")
        usage = event.get("usage") or (message.get("usage") if isinstance(message, dict) else None)
        if isinstance(usage, dict):
            tokens_in = usage.get("input_tokens", usage.get("prompt_tokens", tokens_in))
            tokens_out = usage.get("output_tokens", usage.get("completion_tokens", tokens_out))
        delta = event.get("delta")
        if isinstance(delta, dict):  # Anthropic content_block_delta / message_delta
            if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
                parts.append(delta["text"])
            stop = delta.get("stop_reason") or stop
        choices = event.get("choices")
        for choice in choices if isinstance(choices, list) else ():
            if isinstance(choice, dict):
                d = choice.get("delta")
                if isinstance(d, dict) and isinstance(d.get("content"), str):
                    parts.append(d["content"])
                stop = choice.get("finish_reason") or stop
    return _summary("".join(parts), tokens_in, tokens_out, stop)


def _summary(text: str, tokens_in: Any, tokens_out: Any, stop: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"text": text}
    for key, value in (("input_tokens", tokens_in), ("output_tokens", tokens_out), ("stop_reason", stop)):
        if value is not None:
            out[key] = value
    return out
