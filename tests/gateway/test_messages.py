"""Reading request and response bodies never fails on odd JSON: the gateway must answer 4xx or pass the
request on, never crash into a 5xx of its own."""

from __future__ import annotations

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.gateway.messages import BadRequest, parse_request, prompts, response_summary, stream_summary
from distillguard.gateway.safeguard import Safeguard, SseFilter, apply_request, apply_response

KEYS = st.sampled_from(
    [
        "messages",
        "role",
        "content",
        "text",
        "type",
        "system",
        "choices",
        "message",
        "delta",
        "usage",
        "input_tokens",
        "max_tokens",
        "thinking",
        "reasoning_content",
        "index",
        "x",
    ]
)
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.text(max_size=5)
    | st.sampled_from(["user", "text", "thinking"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25,
)
MODES = [Safeguard("withhold", 10), Safeguard("summarise", 10, summary_chars=5)]


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_any_json_body_is_parsed_or_refused_cleanly(value) -> None:
    raw = orjson.dumps(value)
    try:
        body = parse_request(raw)
    except BadRequest as e:
        assert e.kind == "invalid_request"
        return
    system, user = prompts(body)
    assert isinstance(system, str) and isinstance(user, str)
    for sg in MODES:
        assert isinstance(apply_request(body, sg), dict)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_any_json_response_is_summarised_and_transformed_cleanly(value) -> None:
    summary = response_summary(value)
    assert isinstance(summary, dict)
    for sg in MODES:
        apply_response(value, sg)
    raw = b"data: " + orjson.dumps(value) + b"\n\n"
    assert isinstance(stream_summary(raw), dict)
    for sg in MODES:
        f = SseFilter(sg)
        f.feed(raw[:7])
        f.feed(raw[7:])
        f.close()


def test_bodies_the_gateway_refuses() -> None:
    for raw, kind in ((b"{", "invalid_json"), (b"[]", "invalid_request"), (b'{"messages": []}', "invalid_request")):
        try:
            parse_request(raw)
        except BadRequest as e:
            assert e.kind == kind
        else:
            raise AssertionError(raw)
