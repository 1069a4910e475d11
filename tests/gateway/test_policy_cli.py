"""Snapshot policy pieces, and `distillguard gateway` as a real process whose logs the next ingest reads."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.gateway.policy import SharedTokenBuckets, TokenBuckets, key_id, load_snapshot
from distillguard.store.ingest import ingest

from .conftest import chat


def test_token_bucket_refills_at_its_rate() -> None:
    buckets = TokenBuckets(rate=2.0, burst=3)
    assert [buckets.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", now=0.0) == 0.5  # empty: next token in 1 / rate seconds
    assert buckets.take("b", now=0.0) == 0.0  # buckets are per account
    assert buckets.take("a", now=0.5) == 0.0  # refilled one token


def test_key_id_is_a_keyed_hash_with_a_salt() -> None:
    assert key_id("sk-secret", None) == "sk-secret"
    hashed = key_id("sk-secret", b"salt-1")
    assert len(hashed) == 24 and "secret" not in hashed
    assert hashed == key_id("sk-secret", b"salt-1") != key_id("sk-secret", b"salt-2")


def test_snapshot_reads_store_and_key_map(store: Path, tmp_path: Path) -> None:
    key_map = tmp_path / "keys.jsonl"
    key_map.write_text('{"api_key_id": "k-fresh", "account_id": "acct_suspend"}\n{"bad": 1}\n\n')
    snap = load_snapshot(store, key_map)
    assert snap.keys["k-ok"] == "acct_ok" and snap.keys["k-fresh"] == "acct_suspend"
    assert snap.decision("acct_takedown").campaign_id == "camp_1"
    assert snap.decision("acct_never_seen").action == "none"
    assert len(snap.templates) == 1  # the campaign account's system prompt template


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gateway_command(upstream: str, store: Path, logs: Path, port: int, *extra: str) -> tuple[list[str], dict]:
    """`distillguard gateway` as a subprocess command line, run from this checkout's sources."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    cmd = [sys.executable, "-m", "distillguard", "gateway", "--upstream", upstream, "--db", str(store)]
    return [*cmd, "--logs", str(logs), "--port", str(port), *extra], env


def test_gateway_command_serves_and_its_logs_ingest(upstream, store: Path, tmp_path: Path) -> None:
    port = _free_port()
    logs = tmp_path / "logs"
    cmd, env = _gateway_command(upstream.url, store, logs, port)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url + "/_distillguard/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.1)
        headers = {"authorization": "Bearer k-ok", "user-agent": "openai-python/1.0"}
        statuses = [
            httpx.post(url + "/v1/chat/completions", content=orjson.dumps(chat(f"q{i}")), headers=headers).status_code
            for i in range(5)
        ]
        suspended = httpx.post(
            url + "/v1/chat/completions", content=orjson.dumps(chat()), headers={"authorization": "Bearer k-suspend"}
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert statuses == [200] * 5 and suspended.status_code == 403
    assert proc.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal after a graceful shutdown
    assert b"Traceback" not in proc.stderr.read()
    assert not list(logs.glob(".gateway-*"))  # the shutdown published the log file
    with DuckDBAPI(store) as db:
        summary = ingest(db, [logs])
        assert summary.total("events_added") == 6 and summary.total("quarantined") == 0
        rows = db.query("""SELECT account_id, api_key_id, status, user_agent, ip_class, extra FROM events
                           WHERE request_id LIKE 'gw_%' ORDER BY status""").to_pylist()
    assert [r["status"] for r in rows] == [200] * 5 + [403]
    assert {r["account_id"] for r in rows[:5]} == {"acct_ok"} and rows[5]["account_id"] == "acct_suspend"
    assert rows[0]["user_agent"] == "openai-python/1.0" and rows[0]["ip_class"] == "private"
    signals = [orjson.loads(r["extra"])["gateway"] for r in rows]  # kept by ingest as an unknown field
    assert [s["action"] for s in signals] == ["none"] * 5 + ["suspend"] and signals[5]["refused"] is True


def test_gateway_command_rejects_a_bad_upstream() -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "distillguard", "gateway", "--upstream", "ftp://x"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1 and proc.stderr.startswith("error: --upstream must be an http(s) URL")


def test_gateway_workers_share_the_port_and_each_publish_their_log(upstream, store: Path, tmp_path: Path) -> None:
    port = _free_port()
    logs = tmp_path / "logs"
    cmd, env = _gateway_command(upstream.url, store, logs, port, "--workers", "2")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    try:
        deadline = time.monotonic() + 60
        statuses: list[int] = []
        while len(statuses) < 40:
            try:
                with httpx.Client() as client:  # a new connection each time, so both workers get some
                    statuses.append(
                        client.post(
                            url, content=orjson.dumps(chat()), headers={"authorization": "Bearer k-ok"}
                        ).status_code
                    )
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read().decode()
                time.sleep(0.2)
        throttled: list[int] = []  # a throttled account (0.5/s, burst 5), again a new connection each time
        started = time.monotonic()
        for _ in range(12):
            with httpx.Client() as client:
                r = client.post(url, content=orjson.dumps(chat()), headers={"authorization": "Bearer k-throttle"})
                throttled.append(r.status_code)
        refilled = int((time.monotonic() - started) * 0.5) + 1
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    assert statuses == [200] * 40
    assert set(throttled) == {200, 429} and throttled.count(200) <= 5 + refilled  # one budget, not one per worker
    files = list(logs.glob("gateway-*.jsonl"))
    assert sum(f.read_bytes().count(b"\n") for f in files) == 52 and not list(logs.glob(".gateway-*"))


def test_shared_token_buckets_are_one_budget_across_processes(tmp_path: Path) -> None:
    """Two mappings of one file, as two worker processes have: an account's burst is spent once, not per
    worker; other accounts keep their own; a refilled slot is taken over when the probed slots are all used."""
    first = SharedTokenBuckets(tmp_path / "buckets", rate=2.0, burst=3)
    second = SharedTokenBuckets(tmp_path / "buckets", rate=2.0, burst=3)
    assert [first.take("a", now=0.0), second.take("a", now=0.0), first.take("a", now=0.0)] == [0.0, 0.0, 0.0]
    assert second.take("a", now=0.0) == 0.5 and first.take("a", now=0.0) == 0.5  # empty for both
    assert second.take("b", now=0.0) == 0.0  # buckets are per account
    assert first.take("a", now=0.5) == 0.0  # refilled one token
    tiny = SharedTokenBuckets(tmp_path / "tiny", rate=1.0, burst=1, slots=SharedTokenBuckets.PROBES)
    accounts = [f"acct_{i}" for i in range(SharedTokenBuckets.PROBES + 1)]
    assert [tiny.take(a, now=0.0) for a in accounts[:-1]] == [0.0] * SharedTokenBuckets.PROBES
    assert tiny.take(accounts[-1], now=0.0) == 1.0  # the table is full: shares an empty bucket (throttled harder)
    assert [tiny.take(a, now=0.0) for a in accounts[:-1]] == [1.0] * SharedTokenBuckets.PROBES  # owners kept theirs
    assert tiny.take(accounts[-1], now=5.0) == 0.0  # later every bucket has refilled: a slot is free again
    for buckets in (first, second, tiny):
        buckets.close()
