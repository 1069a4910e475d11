"""Output-side safeguard (first cut): make answers to suspicious accounts worth less as training data.

Reasoning traces are what distillers pay for, so for the actions configured here (by default `review` and
`throttle`: accounts that may be a campaign but are not blocked) the gateway
- caps `max_tokens` (and `max_completion_tokens`), so long traces are cut;
- `withhold`s reasoning: Anthropic `thinking` / `redacted_thinking` blocks and OpenAI-style
  `reasoning_content` / `reasoning` fields are removed from responses (streamed or not), and an Anthropic
  request's `thinking` parameter is dropped so no reasoning is generated at all;
- or `summarise`s it: a thinking block keeps only its first `summary_chars` characters, cut at a sentence
  end, marked as shortened, and loses its signature (a cut block could not be verified when sent back).
  This is truncation, not a model-written summary. OpenAI-style streamed reasoning deltas are withheld in
  both modes (there is no block end to put a summary at).
Accounts whose action has no safeguard (`none`, by default) are passed through byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

THINKING_BLOCKS = ("thinking", "redacted_thinking")
REASONING_FIELDS = ("reasoning_content", "reasoning")
CAP_FIELDS = ("max_tokens", "max_completion_tokens")
MARK = " […reasoning shortened by provider policy]"


@dataclass(frozen=True)
class Safeguard:
    thinking: str = "keep"  # keep | withhold | summarise
    max_tokens: int | None = None
    summary_chars: int = 240

    def __post_init__(self) -> None:
        if self.thinking not in ("keep", "withhold", "summarise"):
            raise ValueError(f"thinking must be keep, withhold or summarise, not {self.thinking!r}")

    @property
    def touches_response(self) -> bool:
        return self.thinking != "keep"


DEFAULT_SAFEGUARDS = {
    "review": Safeguard(thinking="withhold", max_tokens=2048),
    "throttle": Safeguard(thinking="summarise", max_tokens=2048),
}


def summarise(text: str, chars: int) -> str:
    """The first `chars` characters of a reasoning text, cut after the last sentence end inside them."""
    if len(text) <= chars:
        return text
    head = text[:chars]
    cut = max(head.rfind(". "), head.rfind(".\n"), head.rfind("? "), head.rfind("! "))
    return (head[: cut + 1] if cut > chars // 3 else head) + MARK


def apply_request(body: dict[str, Any], sg: Safeguard) -> dict[str, Any]:
    """A copy of the request body with the safeguard's request-side changes."""
    out = dict(body)
    if sg.max_tokens is not None:
        present = [k for k in CAP_FIELDS if isinstance(out.get(k), int)]
        for key in present:
            out[key] = min(out[key], sg.max_tokens)
        if not present:
            out["max_tokens"] = sg.max_tokens
    if sg.thinking == "withhold":
        out.pop("thinking", None)
    elif sg.thinking == "summarise" and isinstance(out.get("thinking"), dict) and sg.max_tokens is not None:
        budget = out["thinking"].get("budget_tokens")
        if isinstance(budget, int) and budget >= out.get("max_tokens", sg.max_tokens):
            out["thinking"] = {**out["thinking"], "budget_tokens": max(1024, out.get("max_tokens", 0) - 1)}
    return out


def apply_response(body: Any, sg: Safeguard) -> Any:
    """A non-streamed response body with reasoning withheld or summarised."""
    if not isinstance(body, dict) or not sg.touches_response:
        return body
    body = dict(body)
    if isinstance(body.get("content"), list):
        blocks = []
        for block in body["content"]:
            if isinstance(block, dict) and block.get("type") in THINKING_BLOCKS:
                if sg.thinking == "withhold" or block.get("type") == "redacted_thinking":
                    continue
                block = {"type": "thinking", "thinking": summarise(str(block.get("thinking", "")), sg.summary_chars)}
            blocks.append(block)
        body["content"] = blocks
    if isinstance(body.get("choices"), list):
        body["choices"] = [_choice(c, sg) for c in body["choices"]]
    return body


def _choice(choice: Any, sg: Safeguard) -> Any:
    if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
        return choice
    message = dict(choice["message"])
    for key in REASONING_FIELDS:
        if key in message:
            if sg.thinking == "withhold" or not isinstance(message[key], str):
                del message[key]
            else:
                message[key] = summarise(message[key], sg.summary_chars)
    return {**choice, "message": message}


class SseFilter:
    """Streams server-sent events through, withholding or summarising reasoning events on the way."""

    def __init__(self, sg: Safeguard) -> None:
        self.sg = sg
        self._pending = b""
        self._thinking: dict[int, list[str]] = {}  # Anthropic block index -> thinking text so far

    def feed(self, chunk: bytes) -> bytes:
        """The complete events of `chunk` (plus what was held back), transformed; partial events wait."""
        data = self._pending + chunk
        end = data.rfind(b"\n\n")
        if end < 0:
            self._pending = data
            return b""
        self._pending = data[end + 2 :]
        return b"".join(self._event(e) for e in data[: end + 2].split(b"\n\n") if e.strip())

    def close(self) -> bytes:
        rest, self._pending = self._pending, b""
        return self._event(rest) if rest.strip() else b""

    def _event(self, raw: bytes) -> bytes:
        lines = raw.split(b"\n")
        data = [ln[5:].strip() for ln in lines if ln.startswith(b"data:")]
        try:
            event = orjson.loads(data[0]) if len(data) == 1 and data[0] != b"[DONE]" else None
        except orjson.JSONDecodeError:
            event = None
        out = self._transform(event) if isinstance(event, dict) else None
        if out is None:
            return raw + b"\n\n"
        head = b"\n".join(ln for ln in lines if not ln.startswith(b"data:"))
        prefix = head + b"\n" if head else b""
        return b"".join(prefix + b"data: " + orjson.dumps(e) + b"\n\n" for e in out)

    def _transform(self, event: dict[str, Any]) -> list[dict[str, Any]] | None:
        """None: pass the event unchanged; else the events to send instead (none: drop it)."""
        kind, index = event.get("type"), event.get("index")
        if not isinstance(index, int):
            index = None
        block = event.get("content_block")
        block_type = block.get("type") if kind == "content_block_start" and isinstance(block, dict) else None
        if block_type in THINKING_BLOCKS:
            self._thinking[index] = []
            if self.sg.thinking == "withhold" or block_type == "redacted_thinking":
                return []
            return [{**event, "content_block": {"type": "thinking", "thinking": ""}}]
        if index in self._thinking and kind == "content_block_delta":
            delta = event.get("delta")
            if isinstance(delta, dict) and delta.get("type") == "thinking_delta":
                self._thinking[index].append(str(delta.get("thinking", "")))
            return []
        if index in self._thinking and kind == "content_block_stop":
            text = "".join(self._thinking.pop(index))
            if self.sg.thinking == "withhold":
                return []
            short = summarise(text, self.sg.summary_chars)
            return [
                {"type": "content_block_delta", "index": index, "delta": {"type": "thinking_delta", "thinking": short}},
                event,
            ]
        if isinstance(event.get("choices"), list):
            changed = False
            choices = []
            for c in event["choices"]:
                delta = c.get("delta") if isinstance(c, dict) else None
                if isinstance(delta, dict) and any(k in delta for k in REASONING_FIELDS):
                    c = {**c, "delta": {k: v for k, v in delta.items() if k not in REASONING_FIELDS}}
                    changed = True
                choices.append(c)
            return [{**event, "choices": choices}] if changed else None
        return None
