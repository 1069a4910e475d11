"""The gateway as an ASGI app: authenticate, decide, forward (streaming included), log.

Per request, all in memory: the API key → account (snapshot dict), the account's action (snapshot dict, a
token bucket for `throttle`), the cheap signals (`signals`), the safeguard for the action (`safeguard`),
then the upstream call over one shared keep-alive pool (`upstream`), and one native log line queued when the
response (or the stream) ends. Background tasks reload the snapshot and flush the log; neither runs on a request's path.

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
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

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
from distillguard.gateway.policy import BLOCKING, Snapshot, SnapshotSource, TokenBuckets, key_id
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


def error_response(
    status: int, kind: str, message: str, headers: dict[str, str] | None = None, **fields: Any
) -> Response:
    """A machine-readable refusal (Anthropic and OpenAI clients both find `error.type` / `error.message`)."""
    body = {"type": "error", "error": {"type": kind, "message": message, **fields}}
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


class Gateway:
    """State shared by all requests of one gateway process."""

    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.source = SnapshotSource(config.db, config.key_map) if config.db else None
        self.buckets = TokenBuckets(config.throttle_rate, config.throttle_burst)
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
        self.writer.flush()

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

    async def dispatch(self, request: Request) -> Response:
        """The one endpoint: every path and method goes through here."""
        if request.url.path == HEALTH_PATH and request.client and request.client.host in LOOPBACK:
            return Response(orjson.dumps(self.health()), media_type="application/json")
        if self.inflight >= self.config.max_inflight:
            self.counters["shed"] += 1
            return error_response(429, "overloaded", "The gateway is at capacity; retry shortly.", {"retry-after": "1"})
        self.inflight += 1
        done = True
        try:
            response = await self._handle(request)
            if isinstance(response, StreamingResponse):
                done = False  # the stream's own generator releases the slot when it ends
            return response
        finally:
            if done:
                self.inflight -= 1

    async def _handle(self, request: Request) -> Response:
        cfg = self.config
        declared = request.headers.get("content-length")
        too_large = f"Request body over {cfg.max_body_bytes} bytes."
        if declared and declared.isdigit() and int(declared) > cfg.max_body_bytes:
            return self._count(error_response(413, "request_too_large", too_large))
        raw = bytearray()
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > cfg.max_body_bytes:
                return self._count(error_response(413, "request_too_large", too_large))
        secret = _api_key(request)
        if secret is None:
            return self._count(
                error_response(401, "authentication_error", "No API key (Authorization: Bearer or x-api-key).")
            )
        endpoint = endpoint_of(request.url.path) if request.method == "POST" else None
        body = None
        if endpoint:
            try:
                body = parse_request(bytes(raw))
            except BadRequest as e:
                return self._count(error_response(400, e.kind, str(e)))
        kid = key_id(secret, cfg.key_salt)
        snap = self.snapshot
        if snap is None and not cfg.fail_open:
            return self._count(
                error_response(503, "enforcement_unavailable", "Enforcement data unavailable; fail-closed.")
            )
        account = snap.keys.get(kid) if snap else None
        if account is None:
            if snap is not None and not cfg.allow_unknown_keys:
                return self._count(
                    error_response(401, "authentication_error", "Unknown API key.", reason="unknown_api_key")
                )
            account = f"key:{kid}"
        decision = snap.decision(account) if snap else None
        info: dict[str, Any] = {"stored_action": decision.action if decision else "none"}
        action = self._signals(request, body, snap, info) if body is not None else info["stored_action"]
        info["action"] = action
        ctx = _Context(request, body, endpoint, kid, account, info, time.time())
        refusal = self._refusal(action, account, decision)
        if refusal is not None:
            info["refused"] = True
            self._log(ctx, refusal.status_code, {})
            return self._count(refusal)
        return await self._forward(ctx, bytes(raw), action)

    def _signals(self, request: Request, body: dict[str, Any], snap: Snapshot | None, info: dict[str, Any]) -> str:
        """Record the cheap signals in `info`; the action to apply (a campaign template match escalates review)."""
        system, user = prompts(body)
        info["cot_hint"] = max(cot_hint(user), cot_hint(system))
        info["address_class"] = self.addresses(_client_ip(request, self.config.trust_forwarded_for))
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

    def _refusal(self, action: str, account: str, decision) -> Response | None:
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

    async def _forward(self, ctx: _Context, raw: bytes, action: str) -> Response:
        safeguard = self.config.safeguards.get(action) if ctx.body is not None else None
        content = raw
        if safeguard is not None:
            content = orjson.dumps(apply_request(ctx.body, safeguard))
            ctx.info["safeguard"] = {"thinking": safeguard.thinking, "max_tokens": safeguard.max_tokens}
        scope = ctx.request.scope
        target = scope.get("raw_path") or scope["path"].encode()
        if scope["query_string"]:
            target += b"?" + scope["query_string"]
        headers = [(k, v) for k, v in scope["headers"] if k not in HOP_BY_HOP]
        headers.append((b"accept-encoding", b"identity"))
        try:
            upstream = await self.upstream.send(ctx.request.method, target, headers, content)
        except UpstreamError as e:
            return self._upstream_failed(ctx, e.status, e.kind)
        headers_out = [(k, v) for k, v in upstream.headers if k not in RESPONSE_DROP]
        headers_out.append((b"x-distillguard-request-id", ctx.request_id.encode()))
        if upstream.content_type.startswith("text/event-stream"):
            done = self._stream_done(ctx, upstream)
            stream = self._stream(ctx, upstream, safeguard, done)
            streamed = _ProxiedStream(stream, done, status_code=upstream.status)
            streamed.raw_headers.extend(headers_out)
            return streamed
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
        response = Response(body, status_code=upstream.status)
        response.raw_headers.extend(headers_out)
        return self._count(response)

    async def _stream(self, ctx: _Context, upstream: UpstreamResponse, safeguard, done: _Once) -> AsyncIterator[bytes]:
        seen: list[bytes] = []
        sse = SseFilter(safeguard) if safeguard is not None and safeguard.touches_response else None
        status = upstream.status
        try:
            async for chunk in upstream.chunks():
                seen.append(chunk)
                out = sse.feed(chunk) if sse else chunk
                if out:
                    yield out
            if sse:
                tail = sse.close()
                if tail:
                    yield tail
        except UpstreamError:
            status = 502  # the upstream broke off mid-stream; the client sees a truncated stream
        except (asyncio.CancelledError, GeneratorExit):
            status = 499  # the client went away mid-stream
            raise
        finally:
            done(status, seen)

    def _stream_done(self, ctx: _Context, upstream: UpstreamResponse) -> _Once:
        """What ends a stream, exactly once: whether its generator finished, or the client left before it ran."""

        def finish(status: int, seen: list[bytes]) -> None:
            upstream.close()
            self.inflight -= 1
            self.counters[str(status)] += 1
            self._log(ctx, status, stream_summary(b"".join(seen)) if ctx.body is not None else {})

        return _Once(finish)

    def _upstream_failed(self, ctx: _Context, status: int, kind: str) -> Response:
        self._log(ctx, status, {})
        return self._count(error_response(status, kind, "The upstream API did not answer."))

    def _count(self, response: Response) -> Response:
        self.counters[str(response.status_code)] += 1
        return response

    def _log(self, ctx: _Context, status: int, response: dict[str, Any]) -> None:
        """One native log line per inspected request (inference endpoints only)."""
        if ctx.body is None:
            return
        record = {
            "request_id": ctx.request_id,
            "timestamp": int(ctx.started * 1000),
            "account_id": ctx.account,
            "api_key_id": ctx.kid,
            "client_ip": _client_ip(ctx.request, self.config.trust_forwarded_for),
            "user_agent": ctx.request.headers.get("user-agent"),
            "model": ctx.body.get("model"),
            "endpoint": ctx.endpoint,
            "request": ctx.body,
            "response": response,
            "status": status,
            "gateway": {**ctx.info, "latency_ms": round((time.time() - ctx.started) * 1000, 3)},
        }
        self.writer.write(record)


class _Once:
    """Calls `fn` on the first call only."""

    __slots__ = ("fn",)

    def __init__(self, fn) -> None:
        self.fn = fn

    def __call__(self, status: int, seen: list[bytes]) -> None:
        fn, self.fn = self.fn, None
        if fn is not None:
            fn(status, seen)


class _ProxiedStream(StreamingResponse):
    """A streamed answer that always releases its upstream connection and in-flight slot and writes its log line,
    even when the client disconnects before the body generator ever starts (its `finally` would then never run)."""

    def __init__(self, content: AsyncIterator[bytes], done: _Once, **kwargs: Any) -> None:
        super().__init__(content, **kwargs)
        self.done = done

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.done(499, [])  # 499: the client closed the connection first (no-op when the stream ended)


class _Context:
    __slots__ = ("request", "body", "endpoint", "kid", "account", "info", "started", "request_id")

    def __init__(self, request: Request, body, endpoint, kid: str, account: str, info: dict, started: float) -> None:
        self.request, self.body, self.endpoint, self.kid = request, body, endpoint, kid
        self.account, self.info, self.started = account, info, started
        self.request_id = "gw_" + uuid.uuid4().hex


def _freeze() -> None:
    """Move everything alive now (the snapshot: a dict entry per account) out of the collector's sight: a full
    collection would otherwise walk millions of snapshot objects and pause every request in flight. A snapshot
    replaced later is still freed by reference counting (it holds no cycles)."""
    gc.collect()
    gc.freeze()


def _api_key(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth and auth[:7].lower() == "bearer " and auth[7:].strip():
        return auth[7:].strip()
    key = request.headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


def _client_ip(request: Request, trust_forwarded_for: bool) -> str | None:
    if trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else None


def app_from_environment() -> Starlette:
    """The app for a uvicorn worker process (`distillguard gateway --workers N`)."""
    return create_app(from_environment())


def create_app(config: GatewayConfig) -> Starlette:
    """The ASGI app for `config` (uvicorn: `create_app` with a config, or `distillguard gateway`)."""
    gateway = Gateway(config)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()

    methods = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]
    app = Starlette(routes=[Route("/{path:path}", gateway.dispatch, methods=methods)], lifespan=lifespan)
    app.state.gateway = gateway
    return app
