"""Real servers for the gateway tests: uvicorn on loopback sockets, a stand-in upstream, a real DuckDB store."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import orjson
import pytest
import uvicorn

from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.gateway.app import create_app
from distillguard.gateway.config import GatewayConfig
from distillguard.gateway.standin import create_standin
from distillguard.store.ingest import ingest
from distillguard.templates.stage import label_templates

CAMPAIGN_SYSTEM = "You are an expert data analyst. Give complete and transparent reasoning for case {n}."
# account -> (api key, action, campaign)
ACCOUNTS = {
    "acct_ok": ("k-ok", "none", None),
    "acct_review": ("k-review", "review", None),
    "acct_throttle": ("k-throttle", "throttle", None),
    "acct_stepup": ("k-stepup", "step_up", None),
    "acct_suspend": ("k-suspend", "suspend", None),
    "acct_takedown": ("k-takedown", "cluster_takedown", "camp_1"),
}


class ServerThread:
    """A uvicorn server on 127.0.0.1 (any free port) in a daemon thread; stops (with lifespan shutdown) on exit."""

    def __init__(self, app) -> None:
        config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.app = app

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.01)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(20)


def write_store(path: Path, tmp: Path) -> Path:
    """A store built the real way: native logs through `ingest`, templates through the template stage, and an
    `enforcement` table with the columns `detect` writes."""
    lines = []
    for i, (account, (key, _, campaign)) in enumerate(ACCOUNTS.items()):
        for j in range(3):
            system = CAMPAIGN_SYSTEM.format(n=100 * i + j) if campaign else "You are a helpful assistant."
            lines.append(
                {
                    "request_id": f"seed_{i}_{j}",
                    "timestamp": 1_770_000_000_000 + 1000 * (10 * i + j),
                    "account_id": account,
                    "api_key_id": key,
                    "client_ip": f"198.51.100.{i + 1}",
                    "request": {"system": system, "messages": [{"role": "user", "content": f"question {j}"}]},
                }
            )
    logs = tmp / "seed.jsonl"
    logs.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in lines))
    with DuckDBAPI(path) as db:
        ingest(db, [logs])
        label_templates(db)
        set_actions(db.con, {a: (action, c) for a, (_, action, c) in ACCOUNTS.items()})
    return path


def set_actions(con: duckdb.DuckDBPyConnection, actions: dict[str, tuple[str, str | None]]) -> None:
    con.execute(
        "CREATE OR REPLACE TABLE enforcement (account_id VARCHAR, action VARCHAR, score DOUBLE, campaign_id VARCHAR, "
        "reason VARCHAR, decided_at TIMESTAMP)"
    )
    con.executemany(
        "INSERT INTO enforcement VALUES (?, ?, 0.5, ?, 'test', now()::TIMESTAMP)",
        [(a, action, c) for a, (action, c) in actions.items()],
    )


@pytest.fixture(scope="session")
def seed_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("seed")
    return write_store(tmp / "store.duckdb", tmp)


@pytest.fixture
def store(seed_store: Path, tmp_path: Path) -> Path:
    """A private copy of the seeded store (tests may change it)."""
    path = tmp_path / "store.duckdb"
    shutil.copy(seed_store, path)
    return path


@pytest.fixture(scope="session")
def upstream() -> Iterator[ServerThread]:
    with ServerThread(create_standin()) as server:
        yield server


def gateway_config(upstream_url: str, tmp_path: Path, db: Path | None, **overrides) -> GatewayConfig:
    return GatewayConfig(upstream=upstream_url, log_dir=tmp_path / "logs", db=db, reload_seconds=0.1, **overrides)


@pytest.fixture
def gateway(upstream: ServerThread, store: Path, tmp_path: Path) -> Iterator[ServerThread]:
    with ServerThread(create_app(gateway_config(upstream.url, tmp_path, store))) as server:
        yield server


def read_logs(directory: Path) -> list[dict]:
    """Every published native log line in `directory`."""
    out = []
    for f in sorted(directory.glob("gateway-*.jsonl")):
        out.extend(orjson.loads(line) for line in f.read_bytes().splitlines() if line)
    return out


def chat(content: str = "What is 6 times 7?", **extra) -> dict:
    return {"model": "frontier-2", "messages": [{"role": "user", "content": content}], **extra}


def anthropic(content: str = "What is 6 times 7?", **extra) -> dict:
    return {"model": "frontier-2", "max_tokens": 4096, "messages": [{"role": "user", "content": content}], **extra}
