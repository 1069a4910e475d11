"""The gateway over real sockets: a uvicorn gateway in front of a uvicorn stand-in upstream, httpx as client."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import duckdb
import httpx
import orjson
import pytest

from distillguard.gateway.app import create_app
from distillguard.gateway.standin import ANSWER, THINKING

from .conftest import CAMPAIGN_SYSTEM, ServerThread, anthropic, chat, gateway_config, read_logs, set_actions


def post(base: str, key: str | None, body, path: str = "/v1/chat/completions", **kw) -> httpx.Response:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    headers.update(kw.pop("headers", {}))
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.post(base + path, content=content, headers=headers, timeout=20, **kw)


def upstream_count(upstream: ServerThread) -> int:
    return httpx.get(upstream.url + "/_standin/count").json()["count"]


def test_allowed_account_is_passed_through_unchanged_and_logged(gateway, upstream, tmp_path: Path) -> None:
    direct = post(upstream.url, "k-ok", chat())
    via = post(gateway.url, "k-ok", chat())
    assert via.status_code == 200
    assert via.content == direct.content  # a legitimate account's answer is byte for byte the upstream's
    assert orjson.loads(via.headers["x-standin-request"]) == {"max_tokens": None, "thinking": False}
    gateway.__exit__()
    [line] = read_logs(tmp_path / "logs")
    assert line["account_id"] == "acct_ok" and line["api_key_id"] == "k-ok" and line["status"] == 200
    assert line["request"] == chat() and line["endpoint"] == "chat/completions"
    assert line["response"] == {"text": ANSWER, "input_tokens": 12, "output_tokens": 7, "stop_reason": "stop"}
    assert line["gateway"]["action"] == "none" and line["gateway"]["address_class"] == "private"
    assert line["request_id"] == via.headers["x-distillguard-request-id"]


@pytest.mark.parametrize(
    ("key", "status", "kind", "extra"),
    [
        ("k-stepup", 403, "step_up_required", {"verify_url": "/verify", "reason": "verification_required"}),
        ("k-suspend", 403, "account_suspended", {"reason": "account_suspended"}),
        ("k-takedown", 403, "account_suspended", {"campaign_id": "camp_1", "reason": "linked_accounts_taken_down"}),
    ],
)
def test_blocking_actions_refuse_with_machine_readable_reason(gateway, upstream, key, status, kind, extra) -> None:
    before = upstream_count(upstream)
    r = post(gateway.url, key, anthropic(), path="/v1/messages", headers={"x-api-key": key})
    assert r.status_code == status
    error = r.json()["error"]
    assert error["type"] == kind
    assert error["account_id"] == {"k-stepup": "acct_stepup", "k-suspend": "acct_suspend"}.get(key, "acct_takedown")
    assert extra.items() <= error.items()
    assert upstream_count(upstream) == before  # a refused request never reaches the upstream


def test_anthropic_key_header_is_accepted(gateway) -> None:
    r = httpx.post(gateway.url + "/v1/messages", content=orjson.dumps(anthropic()), headers={"x-api-key": "k-ok"})
    assert r.status_code == 200 and r.json()["content"][1]["text"] == ANSWER


def test_throttle_passes_a_burst_then_429_with_retry_after(gateway) -> None:
    statuses = [post(gateway.url, "k-throttle", chat()).status_code for _ in range(8)]
    assert statuses[:5] == [200] * 5  # burst of 5 at 0.5 requests/s
    assert 429 in statuses[5:]
    r = post(gateway.url, "k-throttle", chat())
    assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
    assert r.json()["error"]["reason"] == "account_rate_limited"
    assert post(gateway.url, "k-ok", chat()).status_code == 200  # other accounts are not affected


def test_review_account_gets_safeguard_legitimate_does_not(gateway) -> None:
    r = post(
        gateway.url, "k-review", anthropic(thinking={"type": "enabled", "budget_tokens": 3000}), path="/v1/messages"
    )
    assert r.status_code == 200
    assert orjson.loads(r.headers["x-standin-request"]) == {"max_tokens": 2048, "thinking": False}
    assert [b["type"] for b in r.json()["content"]] == ["text"]
    ok = post(gateway.url, "k-ok", anthropic(thinking={"type": "enabled", "budget_tokens": 3000}), path="/v1/messages")
    assert orjson.loads(ok.headers["x-standin-request"]) == {"max_tokens": 4096, "thinking": True}
    assert ok.json()["content"][0]["thinking"] == THINKING
    openai = post(gateway.url, "k-review", chat()).json()
    assert "reasoning_content" not in openai["choices"][0]["message"]


def _stream(base: str, key: str, body: dict, path: str, gap_ms: int = 0) -> tuple[int, list[tuple[float, bytes]]]:
    """Status and (arrival time, chunk) of a streamed response, the upstream spacing events `gap_ms` apart."""
    headers = {"authorization": f"Bearer {key}", "x-standin-event-delay-ms": str(gap_ms)}
    start = time.monotonic()
    with httpx.stream("POST", base + path, content=orjson.dumps(body), headers=headers) as r:
        return r.status_code, [(time.monotonic() - start, chunk) for chunk in r.iter_raw()]


@pytest.mark.parametrize(("path", "body"), [("/v1/chat/completions", chat), ("/v1/messages", anthropic)])
def test_streaming_passes_events_through_as_they_come_and_logs_at_the_end(gateway, upstream, tmp_path, path, body):
    status, chunks = _stream(gateway.url, "k-ok", body(stream=True), path, gap_ms=40)
    _, direct = _stream(upstream.url, "k-ok", body(stream=True), path)
    assert status == 200
    assert b"".join(c for _, c in chunks) == b"".join(c for _, c in direct)
    assert len(chunks) > 3  # event by event, not buffered into one body ...
    assert chunks[0][0] < chunks[-1][0] - 0.1  # ... the first arrived well before the stream ended
    gateway.__exit__()
    [line] = read_logs(tmp_path / "logs")
    assert line["response"]["text"] == ANSWER and line["response"]["output_tokens"] == 7
    assert line["request"]["stream"] is True


def test_client_leaving_mid_stream_releases_its_slot_and_is_logged(gateway, tmp_path) -> None:
    headers = {"authorization": "Bearer k-ok", "x-standin-event-delay-ms": "200"}
    for _ in range(3):
        with httpx.stream(
            "POST", gateway.url + "/v1/messages", content=orjson.dumps(anthropic(stream=True)), headers=headers
        ) as r:
            assert r.status_code == 200  # headers arrived; leave without reading the body
    deadline = time.monotonic() + 10
    while httpx.get(gateway.url + "/_distillguard/health").json()["inflight"] != 0:
        assert time.monotonic() < deadline, "in-flight slots were not released"
        time.sleep(0.05)
    gateway.__exit__()
    assert [line["status"] for line in read_logs(tmp_path / "logs")] == [499] * 3


def test_streaming_review_account_withholds_thinking_events(gateway) -> None:
    status, chunks = _stream(gateway.url, "k-review", anthropic(stream=True), "/v1/messages")
    raw = b"".join(c for _, c in chunks)
    assert status == 200
    assert b"thinking" not in raw and b"text_delta" in raw and b"message_stop" in raw
    status, chunks = _stream(gateway.url, "k-review", chat(stream=True), "/v1/chat/completions")
    raw = b"".join(c for _, c in chunks)
    assert b"reasoning_content" not in raw and b"[DONE]" in raw


def test_malformed_oversized_and_unauthenticated_requests_get_4xx(upstream, store, tmp_path) -> None:
    config = gateway_config(upstream.url, tmp_path, store, max_body_bytes=10_000)
    with ServerThread(create_app(config)) as gw:
        cases = {
            "invalid_json": post(gw.url, "k-ok", b"{not json"),
            "not_object": post(gw.url, "k-ok", b"[1, 2]"),
            "no_messages": post(gw.url, "k-ok", {"model": "m"}),
            "bad_messages": post(gw.url, "k-ok", {"messages": ["hi"]}),
            "oversized": post(gw.url, "k-ok", chat("x" * 20_000)),
            "no_key": post(gw.url, None, chat()),
            "unknown_key": post(gw.url, "k-nobody", chat()),
            "binary": post(gw.url, "k-ok", bytes(range(256))),
        }
        chunked = httpx.post(
            gw.url + "/v1/chat/completions",
            content=iter([orjson.dumps(chat("y" * 6000))[:6000], b"y" * 6000]),
            headers={"authorization": "Bearer k-ok"},
        )
    expected = {
        "invalid_json": 400,
        "not_object": 400,
        "no_messages": 400,
        "bad_messages": 400,
        "oversized": 413,
        "no_key": 401,
        "unknown_key": 401,
        "binary": 400,
    }
    assert {k: r.status_code for k, r in cases.items()} == expected
    assert chunked.status_code == 413  # no Content-Length: counted while read
    assert cases["invalid_json"].json()["error"]["type"] == "invalid_json"
    assert cases["unknown_key"].json()["error"]["reason"] == "unknown_api_key"
    assert read_logs(tmp_path / "logs") == []  # nothing that was refused before parsing is logged


def test_unknown_keys_allowed_when_configured(upstream, store, tmp_path) -> None:
    with ServerThread(create_app(gateway_config(upstream.url, tmp_path, store, allow_unknown_keys=True))) as gw:
        assert post(gw.url, "k-new", chat()).status_code == 200
    [line] = read_logs(tmp_path / "logs")
    assert line["account_id"] == "key:k-new"


def test_hot_reload_changes_actions_without_restart(gateway, store) -> None:
    assert post(gateway.url, "k-ok", chat()).status_code == 200
    with duckdb.connect(str(store)) as con:  # what `detect` does: rewrite the table in another connection
        set_actions(con, {"acct_ok": ("suspend", None), "acct_suspend": ("none", None)})
    deadline = time.monotonic() + 10
    while post(gateway.url, "k-ok", chat()).status_code != 403:
        assert time.monotonic() < deadline, "reload not seen within 10 s"
        time.sleep(0.05)
    assert post(gateway.url, "k-suspend", chat()).status_code == 200
    health = httpx.get(gateway.url + "/_distillguard/health").json()
    assert health["reloads"] >= 2 and health["snapshot"]["accounts"] == 2


def test_unreadable_store_keeps_last_good_snapshot(gateway, store) -> None:
    assert post(gateway.url, "k-suspend", chat()).status_code == 403
    store.write_bytes(b"this is not a duckdb file" * 100)
    time.sleep(0.5)  # several reload periods
    health = httpx.get(gateway.url + "/_distillguard/health").json()
    assert health["last_error"] and health["snapshot"]["accounts"] == 6
    assert post(gateway.url, "k-suspend", chat()).status_code == 403
    assert post(gateway.url, "k-ok", chat()).status_code == 200


@pytest.mark.parametrize(("fail_open", "status"), [(True, 200), (False, 503)])
def test_no_store_at_all_fails_open_or_closed(upstream, tmp_path, fail_open, status) -> None:
    config = gateway_config(upstream.url, tmp_path, tmp_path / "missing.duckdb", fail_open=fail_open)
    with ServerThread(create_app(config)) as gw:
        r = post(gw.url, "k-any", chat())
    assert r.status_code == status
    if not fail_open:
        assert r.json()["error"]["type"] == "enforcement_unavailable"


def test_campaign_template_escalates_review_to_throttle(gateway, tmp_path) -> None:
    body = anthropic(system=CAMPAIGN_SYSTEM.format(n=9071))
    statuses = [post(gateway.url, "k-review", body, path="/v1/messages").status_code for _ in range(7)]
    assert statuses[:5] == [200] * 5 and 429 in statuses[5:]
    gateway.__exit__()
    lines = read_logs(tmp_path / "logs")
    assert all(x["gateway"]["template_match"]["kind"] == "system" for x in lines)
    assert {x["gateway"]["action"] for x in lines} == {"throttle"}
    assert {x["gateway"]["stored_action"] for x in lines} == {"review"}


def test_overload_is_shed_with_429_never_5xx(upstream, store, tmp_path) -> None:
    config = gateway_config(upstream.url, tmp_path, store, max_inflight=2)

    async def burst(url: str) -> list[int]:
        async with httpx.AsyncClient(timeout=20) as client:
            headers = {"authorization": "Bearer k-ok", "x-standin-delay-ms": "300"}
            calls = [
                client.post(url + "/v1/chat/completions", content=orjson.dumps(chat()), headers=headers)
                for _ in range(8)
            ]
            return [r.status_code for r in await asyncio.gather(*calls)]

    with ServerThread(create_app(config)) as gw:
        statuses = asyncio.run(burst(gw.url))
    assert set(statuses) == {200, 429} and statuses.count(200) >= 2
    lines = read_logs(tmp_path / "logs")
    assert len(lines) == statuses.count(200)  # every accepted request logged, shed ones not
