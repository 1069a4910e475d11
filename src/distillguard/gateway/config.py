"""The gateway's settings, in one place so the command line, the ASGI factory and the tests agree."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import orjson

from distillguard.gateway.safeguard import DEFAULT_SAFEGUARDS, Safeguard


@dataclass
class GatewayConfig:
    """See docs/gateway.md for why each default is what it is."""

    upstream: str  # base URL of the OpenAI- or Anthropic-compatible API, e.g. http://127.0.0.1:9000
    log_dir: Path  # native log lines go here, one file per run (and per `max_log_bytes`)
    db: Path | None = None  # the store to take `enforcement`, keys and templates from (read-only)
    key_map: Path | None = None  # JSON Lines api_key_id -> account_id for keys not in `events` yet
    key_salt: bytes | None = None  # HMAC salt for api_key_id; None: the presented key is its own id
    reload_seconds: float = 2.0  # how often the store's files are checked for changes
    fail_open: bool = False  # with no snapshot at all: True lets requests through, False answers 503
    allow_unknown_keys: bool = False  # a key mapped to no account: True lets it through as "key:<id>"
    max_body_bytes: int = 8 << 20  # larger requests get 413 before they are read
    max_inflight: int = 256  # requests being handled at once; beyond it new ones are shed with 429
    throttle_rate: float = 0.5  # requests per second for accounts under `throttle`
    throttle_burst: float = 5.0
    verify_url: str = "/verify"  # where a step-up refusal sends the customer
    safeguards: dict[str, Safeguard] = field(default_factory=lambda: dict(DEFAULT_SAFEGUARDS))
    escalate_review_on_template: bool = True  # a campaign template from an account under review: throttle
    trust_forwarded_for: bool = False  # take the client address from X-Forwarded-For (behind a trusted LB)
    upstream_timeout: float = 600.0
    upstream_connections: int = 256  # keep-alive connections to the upstream (raise for many long streams)
    bucket_file: Path | None = None  # token buckets shared by worker processes (`--workers N`); None: in memory

    flush_seconds: float = 0.2
    max_log_bytes: int = 256 << 20


ENV_VAR = "DISTILLGUARD_GATEWAY_CONFIG"
_PATHS = ("log_dir", "db", "key_map", "bucket_file")


def to_environment(config: GatewayConfig) -> None:
    """Put `config` (less the safeguards, which are the defaults) where worker processes find it."""
    out: dict[str, Any] = {}
    for f in fields(config):
        value = getattr(config, f.name)
        if f.name == "safeguards":
            continue
        if f.name in _PATHS and value is not None:
            value = str(value)
        if f.name == "key_salt" and value is not None:
            value = value.hex()
        out[f.name] = value
    os.environ[ENV_VAR] = orjson.dumps(out).decode()


def from_environment() -> GatewayConfig:
    """The config `to_environment` stored (in a uvicorn worker process)."""
    raw = orjson.loads(os.environ[ENV_VAR])
    for name in _PATHS:
        if raw.get(name) is not None:
            raw[name] = Path(raw[name])
    if raw.get("key_salt") is not None:
        raw["key_salt"] = bytes.fromhex(raw["key_salt"])
    return GatewayConfig(**raw)
