"""The LiteLLM hooks in a real LiteLLM proxy process, in front of the stand-in upstream over loopback."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx
import orjson
import pytest

from distillguard.gateway.logwriter import recover_orphans
from distillguard.gateway.standin import ANSWER

from .conftest import chat, read_logs, set_actions

# Looked up without importing (importing LiteLLM's proxy takes seconds); the proxy itself runs in a child process.
_MISSING = [m for m in ("litellm", "fastapi", "websockets", "mcp") if importlib.util.find_spec(m) is None]
pytestmark = pytest.mark.skipif(
    bool(_MISSING), reason=f"LiteLLM's proxy is not installed (missing {_MISSING}; pip install '.[litellm]')"
)

CONFIG = """
model_list:
  - model_name: frontier-2
    litellm_params:
      model: openai/frontier-2
      api_base: {upstream}/v1
      api_key: sk-upstream
guardrails:
  - guardrail_name: distillguard
    litellm_params:
      guardrail: distillguard.gateway.litellm_hooks.DistillGuardGuardrail
      mode: pre_call
      default_on: true
litellm_settings:
  callbacks: distillguard.gateway.litellm_hooks.native_logger
general_settings:
  master_key: sk-master
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_litellm_proxy_enforces_actions_and_writes_native_logs(upstream, store: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(upstream=upstream.url))
    logs, key_map, port = tmp_path / "logs", tmp_path / "keys.jsonl", _free_port()
    key_map.write_text("")
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).parents[2] / "src"),
        "DISTILLGUARD_DB": str(store),
        "DISTILLGUARD_LOGS": str(logs),
        "DISTILLGUARD_KEY_MAP": str(key_map),
        "DISTILLGUARD_RELOAD_SECONDS": "0.2",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "LITELLM_LOG": "ERROR",
    }
    cmd = [
        sys.executable,
        "-c",
        "from litellm.proxy.proxy_cli import run_server; run_server()",
        "--config",
        str(config),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    headers = {"authorization": "Bearer sk-master"}

    def ready() -> bool:
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:]
        try:
            return httpx.get(f"http://127.0.0.1:{port}/health/liveliness", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        _wait(ready, 90, "the LiteLLM proxy to start")
        first = httpx.post(
            url, content=orjson.dumps(chat("Explain your reasoning step by step.")), headers=headers, timeout=30
        )
        assert first.status_code == 200, first.text
        assert first.json()["choices"][0]["message"]["content"] == ANSWER
        _wait(lambda: len(read_logs(logs) or _published(logs)) >= 1, 20, "the first log line")
        [line] = _published(logs)
        key_hash = line["api_key_id"]
        assert key_hash and line["account_id"] == f"key:{key_hash}"  # no account known for this key yet
        assert line["response"]["text"] == ANSWER and line["gateway"]["cot_hint"] > 0

        key_map.write_text(orjson.dumps({"api_key_id": key_hash, "account_id": "acct_ok"}).decode() + "\n")
        with duckdb.connect(str(store)) as con:
            set_actions(con, {"acct_ok": ("step_up", None)})
        time.sleep(0.5)
        refused = httpx.post(url, content=orjson.dumps(chat()), headers=headers, timeout=30)
        assert refused.status_code == 403
        assert "step_up_required" in refused.text and "acct_ok" in refused.text

        with duckdb.connect(str(store)) as con:
            set_actions(con, {"acct_ok": ("none", None)})
        _wait(
            lambda: httpx.post(url, content=orjson.dumps(chat()), headers=headers, timeout=30).status_code == 200,
            20,
            "the account to be allowed again",
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    lines = _published(logs)
    assert len(lines) >= 2 and {x["account_id"] for x in lines[1:]} == {"acct_ok"}
    statuses = [x["status"] for x in lines]
    assert statuses[:1] == [200] and 403 in statuses and set(statuses) == {200, 403}, statuses  # refusals are logged


def _published(logs: Path) -> list[dict]:
    """Log lines written so far, including the still-open file of a running proxy."""
    out = []
    for f in sorted(logs.glob("*gateway-*.jsonl")) if logs.exists() else []:
        out.extend(orjson.loads(x) for x in f.read_bytes().splitlines() if x)
    return out


def test_orphaned_litellm_log_file_is_recoverable(tmp_path: Path) -> None:
    (tmp_path / ".gateway-20260101T000000-999999999-00001.jsonl").write_text('{"request_id": "x"}\n')
    assert [p.name for p in recover_orphans(tmp_path)] == ["gateway-20260101T000000-999999999-00001.jsonl"]
