"""The gateway as an ASGI app: authenticate, decide, forward (streaming included), log.

Per request, all in memory: the API key → account (snapshot dict), the account's action (snapshot dict, a
token bucket for `throttle`), the cheap signals (`signals`), the safeguard for the action (`safeguard`),
then the upstream call over one shared keep-alive pool (`upstream`), and one native log line queued when the
response (or the stream) ends. Background tasks reload the snapshot and flush the log; neither runs on a request's path.

A bare ASGI callable, not a Starlette app: every request takes the same path, so routing, middleware layers and
Request/Response objects (header and URL objects rebuilt on access) were pure overhead on a budget of a few
hundred microseconds of CPU per request (docs/benchmarks.md, "Gateway").

Refusals are JSON that both SDK families can read: `{"type": "error", "error": {"type", "message",
"action", "account_id", ...}}`. Their `reason` is a fixed code, never the detection evidence (that would
tell a campaign which of its tells was seen).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import time
import uuid
from collections import Counter
from typing import Any

import orjson

from distillguard.gateway.config import GatewayConfig, from_environment
from distillguard.gateway.logwriter import LogWriter
from distillguard.gateway.messages import (
    BadRequest,
    endpoint_of,
    parse_request,
    prompts,
    response_summary,
    stream_summary,
)
from distillguard.gateway.policy import (
    BLOCKING,
    SharedTokenBuckets,
    Snapshot,
    SnapshotSource,
    TokenBuckets,
    key_id,
)
from distillguard.gateway.safeguard import SseFilter, apply_request, apply_response
from distillguard.gateway.signals import AddressClassifier, cot_hint
from distillguard.gateway.upstream import Upstream, UpstreamError, UpstreamResponse

HOP_BY_HOP = frozenset(
    {
        b"host",
        b"content-length",
        b"connection",
        b"keep-alive",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"proxy-authorization",
        b"proxy-authenticate",
        b"accept-encoding",
        b"expect",  # the gateway has read the whole body already; a 100-continue is not the upstream's to send
    }
)
RESPONSE_DROP = frozenset({b"content-length", b"connection", b"keep-alive", b"transfer-encoding", b"content-encoding"})
REFUSALS = {  # action -> (status, error type, reason code, message)
    "step_up": (403, "step_up_required", "verification_required", "This account must complete verification."),
    "suspend": (403, "account_suspended", "account_suspended", "This account is suspended."),
    "cluster_takedown": (
        403,
        "account_suspended",
        "linked_accounts_taken_down",
        "This account was suspended with the accounts linked to it.",
    ),
}
HEALTH_PATH = "/_distillguard/health"  # answered to loopback clients only; elsewhere it is an ordinary path
LOOPBACK = frozenset({"127.0.0.1", "::1"})


JSON = [(b"content-type", b"application/json")]


class Answer:
    """A whole (not streamed) answer: status, headers, body."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    async def send(self, send) -> None:
        headers = self.headers
        if self.status >= 200 and self.status not in (204, 304):
            headers = [*headers, (b"content-length", b"%d" % len(self.body))]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": self.body})


def error_response(
    status: int, kind: str, message: str, headers: dict[str, str] | None = None, **fields: Any
) -> Answer:
    """A machine-readable refusal (Anthropic and OpenAI clients both find `error.type` / `error.message`)."""
    body = {"type": "error", "error": {"type": kind, "message": message, **fields}}
    extra = [(k.encode(), v.encode()) for k, v in headers.items()] if headers else []
    return Answer(status, [*JSON, *extra], orjson.dumps(body))


class Request:
    """What the gateway reads of a request, taken from the ASGI scope once."""

    __slots__ = ("method", "path", "raw_headers", "headers", "client", "receive", "scope")

    def __init__(self, scope: dict[str, Any], receive) -> None:
        self.scope = scope
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.raw_headers: list[tuple[bytes, bytes]] = scope["headers"]
        self.headers = {name: value for name, value in reversed(self.raw_headers)}  # the first of repeated names
        client = scope.get("client")
        self.client: str | None = client[0] if client else None
        self.receive = receive

    def header(self, name: bytes) -> str | None:
        value = self.headers.get(name)
        return None if value is None else value.decode("latin-1")

    def target(self) -> bytes:
        """Path and query exactly as the client encoded them."""
        target = self.scope.get("raw_path") or self.path.encode()
        query = self.scope.get("query_string")
        return target + b"?" + query if query else target

    async def body(self, limit: int) -> bytes | None:
        """The whole body, or None once it grows past `limit` bytes."""
        message = await self.receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        if not message.get("more_body"):  # the usual case: the whole body in one message
            body = message.get("body", b"")
            return body if len(body) <= limit else None
        raw = bytearray(message.get("body", b""))
        while message.get("more_body"):
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise _ClientGone
            raw += message.get("body", b"")
            if len(raw) > limit:
                return None
        return bytes(raw)


class _ClientGone(Exception):
    """The client disconnected before the request was read."""


class Gateway:
    """State shared by all requests of one gateway process, and the ASGI callable itself."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.source = SnapshotSource(config.db, config.key_map) if config.db else None
        rate, burst = config.throttle_rate, config.throttle_burst
        shared = config.bucket_file
        self.buckets = SharedTokenBuckets(shared, rate, burst) if shared else TokenBuckets(rate, burst)
        self.addresses = AddressClassifier()
        self.writer = LogWriter(config.log_dir, max_bytes=config.max_log_bytes)
        self.counters: Counter[str] = Counter()
        self.inflight = 0
        self.upstream = Upstream(config.upstream, config.upstream_connections, config.upstream_timeout)
        self._tasks: list[asyncio.Task] = []

    @property
    def snapshot(self) -> Snapshot | None:
        return self.source.current if self.source else None

    # ------------------------------------------------------------------------------------------ lifecycle

    async def __call__(self, scope: dict[str, Any], receive, send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self.dispatch(Request(scope, receive), send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:  # websocket: not proxied
            await send({"type": "websocket.close", "code": 1003})

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as e:  # the server reports it and exits
                    await send({"type": "lifespan.startup.failed", "message": repr(e)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def start(self) -> None:
        await self.upstream.start()
        if self.source:
            await asyncio.to_thread(self.source.maybe_reload)
            _freeze()
            self._tasks.append(asyncio.create_task(self._every(self.config.reload_seconds, self._reload)))
        self._tasks.append(asyncio.create_task(self._every(self.config.flush_seconds, self._flush)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.writer.close()
        await self.upstream.close()
        if isinstance(self.buckets, SharedTokenBuckets):
            self.buckets.close()
        gc.unfreeze()  # let the interpreter's final collection see the snapshot again

    async def _every(self, seconds: float, job) -> None:
        while True:
            await asyncio.sleep(seconds)
            with contextlib.suppress(Exception):  # a failed reload or flush is retried next time
                await job()

    async def _reload(self) -> None:
        assert self.source is not None
        if await asyncio.to_thread(self.source.maybe_reload):
            _freeze()

    async def _flush(self) -> None:
        await asyncio.to_thread(self.writer.flush)

    def health(self) -> dict[str, Any]:
        snap = self.snapshot
        return {
            "snapshot": None
            if snap is None
            else {
                "accounts": len(snap.decisions),
                "keys": len(snap.keys),
                "templates": len(snap.templates),
                "loaded_at": snap.loaded_at,
            },
            "reloads": self.source.reloads if self.source else 0,
            "last_error": self.source.last_error if self.source else None,
            "inflight": self.inflight,
            "log_lines_written": self.writer.lines_written,
            "log_lines_pending": self.writer.pending,
            "counters": dict(self.counters),
        }

    # ------------------------------------------------------------------------------------------ requests

    async def dispatch(self, request: Request, send) -> None:
        """The one endpoint: every path and method goes through here."""
        if request.path == HEALTH_PATH and request.client in LOOPBACK:
            await Answer(200, JSON, orjson.dumps(self.health())).send(send)
            return
        if self.inflight >= self.config.max_inflight:
            self.counters["shed"] += 1
            retry = {"retry-after": "1"}
            await error_response(429, "overloaded", "The gateway is at capacity; retry shortly.", retry).send(send)
            return
        self.inflight += 1
        try:
            answer = await self._handle(request, send)
        except _ClientGone:
            return
        finally:
            self.inflight -= 1
        if answer is not None:
            self.counters[str(answer.status)] += 1
            await answer.send(send)

    async def _handle(self, request: Request, send) -> Answer | None:
        """The answer to send, or None when a stream was sent here already."""
        cfg = self.config
        declared = request.headers.get(b"content-length")
        too_large = f"Request body over {cfg.max_body_bytes} bytes."
        if declared and declared.isdigit() and int(declared) > cfg.max_body_bytes:
            return error_response(413, "request_too_large", too_large)
        raw = await request.body(cfg.max_body_bytes)
        if raw is None:
            return error_response(413, "request_too_large", too_large)
        secret = _api_key(request)
        if secret is None:
            return error_response(401, "authentication_error", "No API key (Authorization: Bearer or x-api-key).")
        endpoint = endpoint_of(request.path) if request.method == "POST" else None
        body = None
        if endpoint:
            try:
                body = parse_request(raw)
            except BadRequest as e:
                return error_response(400, e.kind, str(e))
        kid = key_id(secret, cfg.key_salt)
        snap = self.snapshot
        if snap is None and not cfg.fail_open:
            return error_response(503, "enforcement_unavailable", "Enforcement data unavailable; fail-closed.")
        account = snap.keys.get(kid) if snap else None
        if account is None:
            if snap is not None and not cfg.allow_unknown_keys:
                return error_response(401, "authentication_error", "Unknown API key.", reason="unknown_api_key")
            account = f"key:{kid}"
        decision = snap.decision(account) if snap else None
        info: dict[str, Any] = {"stored_action": decision.action if decision else "none"}
        ctx = _Context(request, body, endpoint, kid, account, info, time.time(), self.config.trust_forwarded_for)
        action = self._signals(ctx, snap) if body is not None else info["stored_action"]
        info["action"] = action
        refusal = self._refusal(action, account, decision)
        if refusal is not None:
            info["refused"] = True
            self._log(ctx, refusal.status, {})
            return refusal
        return await self._forward(ctx, raw, action, send)

    def _signals(self, ctx: _Context, snap: Snapshot | None) -> str:
        """Record the cheap signals in `ctx.info`; the action to apply (a campaign template match escalates review)."""
        info = ctx.info
        system, user = prompts(ctx.body)
        info["cot_hint"] = max(cot_hint(user), cot_hint(system))
        info["address_class"] = self.addresses(ctx.client_ip)
        match = snap.templates.match(system, user) if snap and len(snap.templates) else None
        action = info["stored_action"]
        if match:
            info["template_match"] = {
                "template_id": match.template_id,
                "kind": match.kind,
                "similarity": match.similarity,
            }
            if action == "review" and self.config.escalate_review_on_template:
                return "throttle"
        return action

    def _refusal(self, action: str, account: str, decision) -> Answer | None:
        if action in BLOCKING:
            status, kind, reason, message = REFUSALS[action]
            extra: dict[str, Any] = {"action": action, "account_id": account, "reason": reason}
            if action == "step_up":
                extra["verify_url"] = self.config.verify_url
            if action == "cluster_takedown" and decision and decision.campaign_id:
                extra["campaign_id"] = decision.campaign_id
            return error_response(status, kind, message, **extra)
        if action == "throttle":
            wait = self.buckets.take(account)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                return error_response(
                    429,
                    "rate_limit_error",
                    "Rate limited for this account.",
                    {"retry-after": str(seconds)},
                    action="throttle",
                    account_id=account,
                    reason="account_rate_limited",
                    retry_after=seconds,
                )
        return None

    async def _forward(self, ctx: _Context, raw: bytes, action: str, send) -> Answer | None:
        safeguard = self.config.safeguards.get(action) if ctx.body is not None else None
        content = raw
        if safeguard is not None:
            content = orjson.dumps(apply_request(ctx.body, safeguard))
            ctx.info["safeguard"] = {"thinking": safeguard.thinking, "max_tokens": safeguard.max_tokens}
        request = ctx.request
        headers = [(k, v) for k, v in request.raw_headers if k not in HOP_BY_HOP]
        headers.append((b"accept-encoding", b"identity"))
        try:
            upstream = await self.upstream.send(request.method, request.target(), headers, content)
        except UpstreamError as e:
            return self._upstream_failed(ctx, e.status, e.kind)
        headers_out = [(k, v) for k, v in upstream.headers if k not in RESPONSE_DROP]
        headers_out.append((b"x-distillguard-request-id", ctx.request_id.encode()))
        if upstream.content_type.startswith("text/event-stream"):
            await self._stream(ctx, upstream, safeguard, headers_out, send)
            return None
        try:
            body = await upstream.read()
        except UpstreamError as e:
            return self._upstream_failed(ctx, e.status, e.kind)
        summary: dict[str, Any] = {}
        if ctx.body is not None and upstream.content_type.startswith("application/json"):
            with contextlib.suppress(orjson.JSONDecodeError):
                parsed = orjson.loads(body)
                summary = response_summary(parsed)
                if safeguard is not None and safeguard.touches_response:
                    body = orjson.dumps(apply_response(parsed, safeguard))
        self._log(ctx, upstream.status, summary)
        return Answer(upstream.status, headers_out, body)

    async def _stream(self, ctx: _Context, upstream: UpstreamResponse, safeguard, headers, send) -> None:
        """Pass a server-sent-event answer through as it arrives, and log it when it ends. A second task waits for
        the client to leave and then cancels this one, so a stream nobody reads does not run on upstream (where
        it costs tokens) until it ends by itself."""
        task = asyncio.current_task()
        assert task is not None
        receive = ctx.request.receive
        gone = False

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            gone = True
            task.cancel()

        watcher = asyncio.create_task(watch())
        seen: list[bytes] = []
        sse = SseFilter(safeguard) if safeguard is not None and safeguard.touches_response else None
        status = upstream.status
        try:
            await send({"type": "http.response.start", "status": upstream.status, "headers": headers})
            async for chunk in upstream.chunks():
                seen.append(chunk)
                out = sse.feed(chunk) if sse else chunk
                if out:
                    await send({"type": "http.response.body", "body": out, "more_body": True})
            if sse:
                tail = sse.close()
                if tail:
                    await send({"type": "http.response.body", "body": tail, "more_body": True})
        except UpstreamError:
            status = 502  # the upstream broke off mid-stream; the client sees a truncated stream
        except asyncio.CancelledError:
            status = 499  # the client went away mid-stream (or the server is stopping)
            if not gone:
                raise
            task.uncancel()
        finally:
            watcher.cancel()
            upstream.close()
            self.counters[str(status)] += 1
            self._log(ctx, status, stream_summary(b"".join(seen)) if ctx.body is not None else {})
        if status != 499:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    def _upstream_failed(self, ctx: _Context, status: int, kind: str) -> Answer:
        self._log(ctx, status, {})
        return error_response(status, kind, "The upstream API did not answer.")

    def _log(self, ctx: _Context, status: int, response: dict[str, Any]) -> None:
        """One native log line per inspected request (inference endpoints only)."""
        if ctx.body is None:
            return
        record = {
            "request_id": ctx.request_id,
            "timestamp": int(ctx.started * 1000),
            "account_id": ctx.account,
            "api_key_id": ctx.kid,
            "client_ip": ctx.client_ip,
            "user_agent": ctx.request.header(b"user-agent"),
            "model": ctx.body.get("model"),
            "endpoint": ctx.endpoint,
            "request": ctx.body,
            "response": response,
            "status": status,
            "gateway": {**ctx.info, "latency_ms": round((time.time() - ctx.started) * 1000, 3)},
        }
        self.writer.write(record)


class _Context:
    __slots__ = ("request", "body", "endpoint", "kid", "account", "info", "started", "request_id", "client_ip")

    def __init__(
        self, request: Request, body, endpoint, kid: str, account: str, info: dict, started: float, forwarded: bool
    ) -> None:
        self.request, self.body, self.endpoint, self.kid = request, body, endpoint, kid
        self.account, self.info, self.started = account, info, started
        self.request_id = "gw_" + uuid.uuid4().hex
        self.client_ip = _client_ip(request, forwarded)


def _freeze() -> None:
    """Move everything alive now (the snapshot: a dict entry per account) out of the collector's sight: a full
    collection would otherwise walk millions of snapshot objects and pause every request in flight. A snapshot
    replaced later is still freed by reference counting (it holds no cycles)."""
    gc.collect()
    gc.freeze()


def _api_key(request: Request) -> str | None:
    auth = request.header(b"authorization")
    if auth and auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    key = request.header(b"x-api-key")
    return key.strip() if key and key.strip() else None


def _client_ip(request: Request, trust_forwarded_for: bool) -> str | None:
    if trust_forwarded_for:
        forwarded = request.header(b"x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client


def app_from_environment() -> Gateway:
    """The app for a uvicorn worker process (`distillguard gateway --workers N`)."""
    return create_app(from_environment())


def create_app(config: GatewayConfig) -> Gateway:
    """The ASGI app for `config` (uvicorn: `create_app` with a config, or `distillguard gateway`)."""
    return Gateway(config)
