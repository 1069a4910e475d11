"""A stand-in upstream LLM API: canned completions over real HTTP, for tests, benchmarks and trying the gateway.

Answers `POST .../chat/completions` (OpenAI) and `POST .../messages` (Anthropic), streamed (server-sent
events) when the body asks for `"stream": true`. Every answer carries a reasoning part (an Anthropic
`thinking` block, an OpenAI `reasoning_content` field) so the safeguard has something to withhold, and the
header `x-standin-request` echoes what arrived (`max_tokens`, whether `thinking` was asked for) so a test
can see what the gateway forwarded. A request header `x-standin-delay-ms` delays the answer (to hold requests
in flight), `x-standin-event-delay-ms` spaces out streamed events (to see them arrive one by
one). `GET /_standin/count` tells how many requests reached it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson

THINKING = "First I restate the task. Then I check each case in turn. " * 12
ANSWER = "The answer is 42."
WORDS = ANSWER.split(" ")
JSON = (b"content-type", b"application/json")


def create_standin():
    """The stand-in upstream app: a bare ASGI callable. It shares the benchmark machine's cores with the gateway,
    so it should cost as little CPU per request as it can (a Starlette app cost about twice as much)."""
    state = {"count": 0}

    async def app(scope: dict[str, Any], receive, send) -> None:
        if scope["type"] == "lifespan":
            await receive()  # lifespan.startup
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
            await send({"type": "lifespan.shutdown.complete"})
            return
        path, method = scope["path"], scope["method"]
        if path == "/_standin/count":
            await _answer(send, 200, [JSON], orjson.dumps(state))
            return
        if method != "POST":
            await _answer(send, 405, [(b"allow", b"POST")], b"Method Not Allowed")
            return
        state["count"] += 1
        raw = bytearray()
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if not message.get("more_body"):
                break
        body = orjson.loads(raw)
        headers = dict(scope["headers"])
        delay = headers.get(b"x-standin-delay-ms")
        if delay:
            await asyncio.sleep(int(delay) / 1000)
        echo = orjson.dumps(
            {"max_tokens": body.get("max_tokens", body.get("max_completion_tokens")), "thinking": "thinking" in body}
        )
        anthropic = path.rstrip("/").endswith("/messages")
        if body.get("stream"):
            events = _anthropic_events() if anthropic else _openai_events(body.get("model"))
            gap = int(headers.get(b"x-standin-event-delay-ms", b"0")) / 1000
            start = [(b"content-type", b"text/event-stream"), (b"x-standin-request", echo)]
            await send({"type": "http.response.start", "status": 200, "headers": start})
            async for chunk in _sse(events, gap):
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        payload = _anthropic_message() if anthropic else _openai_completion(body.get("model"))
        await _answer(send, 200, [JSON, (b"x-standin-request", echo)], orjson.dumps(payload))

    return app


async def _answer(send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _anthropic_message() -> dict[str, Any]:
    return {
        "id": "msg_standin",
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "thinking", "thinking": THINKING, "signature": "sig"},
            {"type": "text", "text": ANSWER},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 12, "output_tokens": 7},
    }


def _openai_completion(model: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": 1770000000,
        "model": model or "standin",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ANSWER, "reasoning_content": THINKING},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19},
    }


def _anthropic_events() -> list[tuple[str | None, dict[str, Any]]]:
    usage = {"input_tokens": 12, "output_tokens": 1}
    out: list[tuple[str | None, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": {"id": "msg_standin", "usage": usage}}),
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking"}}),
    ]
    for part in THINKING.split(". "):
        delta = {"type": "thinking_delta", "thinking": part + ". "}
        out.append(("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
    out.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    out.append(("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "text"}}))
    for i, word in enumerate(WORDS):
        delta = {"type": "text_delta", "text": word if i == 0 else " " + word}
        out.append(("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": delta}))
    out.append(("content_block_stop", {"type": "content_block_stop", "index": 1}))
    stop = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 7}}
    out.append(("message_delta", stop))
    out.append(("message_stop", {"type": "message_stop"}))
    return out


def _openai_events(model: Any) -> list[tuple[str | None, dict[str, Any]]]:
    base = {"id": "chatcmpl-standin", "object": "chat.completion.chunk", "model": model or "standin"}
    out: list[tuple[str | None, dict[str, Any]]] = [
        (None, {**base, "choices": [{"index": 0, "delta": {"reasoning_content": THINKING}}]})
    ]
    for i, word in enumerate(WORDS):
        out.append((None, {**base, "choices": [{"index": 0, "delta": {"content": word if i == 0 else " " + word}}]}))
    out.append((None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
    usage = {"prompt_tokens": 12, "completion_tokens": 7, "total_tokens": 19}
    out.append((None, {**base, "choices": [], "usage": usage}))
    return out


async def _sse(events: list[tuple[str | None, dict[str, Any]]], gap: float = 0.0) -> AsyncIterator[bytes]:
    for name, data in events:
        if gap:
            await asyncio.sleep(gap)
        head = f"event: {name}\n".encode() if name else b""
        yield head + b"data: " + orjson.dumps(data) + b"\n\n"
    if events and events[0][0] is None:
        yield b"data: [DONE]\n\n"
