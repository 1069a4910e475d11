"""The `gateway` and `signup-risk` commands. ``register(app)`` adds them to the main command line."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import orjson
import typer

from distillguard.cli import fail


def gateway_command(
    upstream: Annotated[str, typer.Option("--upstream", help="Base URL of the OpenAI/Anthropic-compatible API.")],
    db: Annotated[Path | None, typer.Option("--db", help="Store with the enforcement table (read-only).")] = Path(
        "distillguard.duckdb"
    ),
    logs: Annotated[Path, typer.Option("--logs", help="Directory for native log lines.")] = Path("gateway-logs"),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8080,
    key_map: Annotated[Path | None, typer.Option("--key-map", help="JSON Lines api_key_id -> account_id.")] = None,
    key_salt_env: Annotated[
        str | None, typer.Option("--key-salt-env", help="Environment variable holding the HMAC salt for key ids.")
    ] = None,
    reload_seconds: Annotated[float, typer.Option(help="How often to check the store for changes.")] = 2.0,
    fail_open: Annotated[
        bool, typer.Option("--fail-open/--fail-closed", help="With no enforcement snapshot: allow, or answer 503.")
    ] = False,
    allow_unknown_keys: Annotated[bool, typer.Option(help="Let keys mapped to no account through.")] = False,
    max_body_bytes: Annotated[int, typer.Option(help="Larger request bodies get 413.")] = 8 << 20,
    max_inflight: Annotated[int, typer.Option(help="Concurrent requests before shedding with 429.")] = 256,
    throttle_rate: Annotated[float, typer.Option(help="Requests/s for throttled accounts.")] = 0.5,
    throttle_burst: Annotated[float, typer.Option(help="Burst size for throttled accounts.")] = 5.0,
    verify_url: Annotated[str, typer.Option(help="Where step-up refusals send the customer.")] = "/verify",
    trust_forwarded_for: Annotated[bool, typer.Option(help="Client address from X-Forwarded-For.")] = False,
    upstream_connections: Annotated[
        int, typer.Option(help="Connections to the upstream (raise for long streams).")
    ] = 256,
    workers: Annotated[
        int, typer.Option(help="Gateway processes on the port (token buckets shared; in-flight limit per process).")
    ] = 1,
) -> None:
    """Proxy an LLM API and enforce the store's actions per request (see docs/gateway.md)."""
    import uvicorn

    from distillguard.gateway.app import create_app
    from distillguard.gateway.config import GatewayConfig, to_environment

    if not upstream.startswith(("http://", "https://")):
        fail(f"--upstream must be an http(s) URL, got {upstream!r}")
    salt = None
    if key_salt_env:
        value = os.environ.get(key_salt_env)
        if not value:
            fail(f"environment variable {key_salt_env} is not set")
        salt = value.encode()
    if key_map is not None and not key_map.exists():
        fail(f"no key map at {key_map}")
    if db is not None and not db.exists():
        mode = "lets every request through" if fail_open else "answers 503 to every request"
        sys.stderr.write(f"warning: no store at {db} yet; until one appears the gateway {mode}\n")
    config = GatewayConfig(
        upstream=upstream,
        log_dir=logs,
        db=db,
        key_map=key_map,
        key_salt=salt,
        reload_seconds=reload_seconds,
        fail_open=fail_open,
        allow_unknown_keys=allow_unknown_keys,
        max_body_bytes=max_body_bytes,
        max_inflight=max_inflight,
        throttle_rate=throttle_rate,
        throttle_burst=throttle_burst,
        verify_url=verify_url,
        trust_forwarded_for=trust_forwarded_for,
        upstream_connections=upstream_connections,
    )
    # proxy_headers off: uvicorn would otherwise take the client address from X-Forwarded-For whenever the peer
    # is 127.0.0.1, behind the back of --trust-forwarded-for, the gateway's one switch for that (and it costs a
    # middleware layer on every request).
    server = {"host": host, "port": port, "log_level": "warning", "access_log": False, "proxy_headers": False}
    if workers > 1:  # each worker builds its own app (snapshot, log file) from the environment
        fd, buckets = tempfile.mkstemp(prefix="distillguard-buckets-")  # ... but throttles from one shared table
        os.close(fd)
        config.bucket_file = Path(buckets)
        to_environment(config)
        try:
            uvicorn.run("distillguard.gateway.app:app_from_environment", factory=True, workers=workers, **server)
        finally:
            os.unlink(buckets)
    else:
        uvicorn.run(create_app(config), **server)


def signup_risk_command(
    applications: Annotated[Path, typer.Argument(help="JSON Lines sign-up applications ('-': standard input).")],
    db: Annotated[Path, typer.Option("--db", help="Store with accounts and enforcement (read-only).")] = Path(
        "distillguard.duckdb"
    ),
    threshold: Annotated[float, typer.Option(help="Score at which step-up verification is required.")] = 0.5,
) -> None:
    """Score programme sign-ups (education, research, startup); one JSON result per line on stdout."""
    import duckdb

    from distillguard.gateway.signup import SignupApplication, SignupRiskScorer

    if not db.exists():
        fail(f"no store at {db}; run `distillguard ingest` first")
    try:
        scorer = SignupRiskScorer.from_store(db, threshold=threshold)
    except duckdb.Error as e:
        fail(f"cannot read store {db}: {str(e).splitlines()[0]}")
    if str(applications) != "-" and not applications.exists():
        fail(f"no such file: {applications}")
    stream = sys.stdin.buffer if str(applications) == "-" else applications.open("rb")
    with stream:
        for n, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                app = SignupApplication.from_dict(orjson.loads(line))
            except (orjson.JSONDecodeError, TypeError, ValueError) as e:
                fail(f"{applications}:{n}: {e}")
            sys.stdout.write(orjson.dumps(scorer.score(app).to_dict()).decode() + "\n")


def register(app: typer.Typer) -> None:
    app.command("gateway")(gateway_command)
    app.command("signup-risk")(signup_risk_command)
