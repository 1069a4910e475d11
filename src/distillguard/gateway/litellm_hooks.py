"""LiteLLM integration: a pre-call guardrail that enforces the store's actions, and a callback writing native logs.

For operators who already run the LiteLLM proxy instead of `distillguard gateway`. Both hooks share one
`SnapshotSource` (read-only, reloaded when the store changes, at most every `DISTILLGUARD_RELOAD_SECONDS`)
and one `LogWriter`; configuration is by environment variable because LiteLLM passes only its own
parameters to a guardrail's constructor:

- `DISTILLGUARD_DB`: the store (default `distillguard.duckdb`); `DISTILLGUARD_KEY_MAP`: optional key map;
- `DISTILLGUARD_LOGS`: directory for native log lines (default `gateway-logs`);
- `DISTILLGUARD_FAIL_OPEN=1`: allow requests while no snapshot could be loaded (default: refuse, 503).

Key identity: LiteLLM authenticates the key itself and hands hooks its hash (`user_api_key_dict.api_key`,
SHA-256 of the virtual key), which is what lands in `api_key_id`; map it to accounts with the key map (or let
`ingest` learn it from these logs once an account id is known). A key mapped to no account is allowed as
`key:<hash>`: LiteLLM has already decided the key is valid.

What the LiteLLM path does not do (docs/gateway.md): withhold or summarise reasoning in responses (only the
request-side safeguard: `max_tokens` cap, `thinking` dropped), and its log line carries the CoT hint but not
the address class or template match. See `docs/litellm/config.yaml` for a working configuration.
"""

from __future__ import annotations

import asyncio
import atexit
import math
import os
import time
from pathlib import Path
from typing import Any

from fastapi import HTTPException
from litellm.integrations.custom_guardrail import CustomGuardrail
from litellm.integrations.custom_logger import CustomLogger

from distillguard.gateway.app import REFUSALS
from distillguard.gateway.logwriter import LogWriter
from distillguard.gateway.messages import prompts, response_summary
from distillguard.gateway.policy import BLOCKING, SnapshotSource, TokenBuckets
from distillguard.gateway.safeguard import DEFAULT_SAFEGUARDS, apply_request
from distillguard.gateway.signals import cot_hint


class _Shared:
    """The state both hooks read: one per proxy process, created on first use."""

    def __init__(self) -> None:
        key_map = os.environ.get("DISTILLGUARD_KEY_MAP")
        self.source = SnapshotSource(
            Path(os.environ.get("DISTILLGUARD_DB", "distillguard.duckdb")), Path(key_map) if key_map else None
        )
        self.reload_seconds = float(os.environ.get("DISTILLGUARD_RELOAD_SECONDS", "2"))
        self.fail_open = os.environ.get("DISTILLGUARD_FAIL_OPEN", "") in ("1", "true", "yes")
        self.writer = LogWriter(Path(os.environ.get("DISTILLGUARD_LOGS", "gateway-logs")))
        self.buckets = TokenBuckets(0.5, 5.0)
        self._checked = 0.0
        atexit.register(self.writer.close)

    async def snapshot(self):
        now = time.monotonic()
        if now - self._checked >= self.reload_seconds or self.source.current is None:
            self._checked = now
            await asyncio.to_thread(self.source.maybe_reload)
        return self.source.current

    def account(self, snap, key_hash: str | None) -> str:
        account = snap.keys.get(key_hash) if snap is not None and key_hash else None
        return account or f"key:{key_hash}"


_shared: _Shared | None = None


def shared() -> _Shared:
    global _shared
    if _shared is None:
        _shared = _Shared()
    return _shared


def _refuse(status: int, kind: str, message: str, headers: dict[str, str] | None = None, **fields: Any) -> None:
    raise HTTPException(
        status_code=status, detail={"error": {"type": kind, "message": message, **fields}}, headers=headers
    )


class DistillGuardGuardrail(CustomGuardrail):
    """Pre-call guardrail: refuse (403/429/503) or pass the request on, capped for accounts with a safeguard."""

    async def async_pre_call_hook(self, user_api_key_dict, cache, data: dict, call_type) -> dict:
        state = shared()
        snap = await state.snapshot()
        if snap is None and not state.fail_open:
            _refuse(503, "enforcement_unavailable", "Enforcement data unavailable; fail-closed.")
        account = state.account(snap, getattr(user_api_key_dict, "api_key", None))
        decision = snap.decision(account) if snap is not None else None
        action = decision.action if decision else "none"
        messages = data.get("messages")
        readable = isinstance(messages, list) and all(isinstance(m, dict) for m in messages)
        checked = action == "review" and snap is not None and len(snap.templates) and readable
        if checked and snap.templates.match(*prompts(data)):  # a campaign template, from an account under review
            action = "throttle"
        if action in BLOCKING:
            status, kind, reason, message = REFUSALS[action]
            _refuse(status, kind, message, action=action, account_id=account, reason=reason)
        if action == "throttle":
            wait = state.buckets.take(account)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                _refuse(
                    429,
                    "rate_limit_error",
                    "Rate limited for this account.",
                    {"retry-after": str(seconds)},
                    action=action,
                    account_id=account,
                    reason="account_rate_limited",
                )
        safeguard = DEFAULT_SAFEGUARDS.get(action)
        if safeguard is not None:
            data = apply_request(data, safeguard)
        return data


class NativeLogger(CustomLogger):
    """Writes one native log line per completed call (success or failure)."""

    async def async_log_success_event(self, kwargs, response_obj, start_time, end_time) -> None:
        self._write(kwargs, response_obj, 200)

    async def async_log_failure_event(self, kwargs, response_obj, start_time, end_time) -> None:
        slo = kwargs.get("standard_logging_object") or {}
        info = slo.get("error_information") or {}
        code = str(info.get("error_code") or "")
        self._write(kwargs, None, int(code) if code.isdigit() else 500)

    def _write(self, kwargs: dict, response_obj: Any, status: int) -> None:
        state = shared()
        slo = kwargs.get("standard_logging_object") or {}
        metadata = slo.get("metadata") or {}
        key_hash = metadata.get("user_api_key_hash")
        messages = kwargs.get("messages") or slo.get("messages")
        if not isinstance(messages, list) or not messages:
            return
        request: dict[str, Any] = {"messages": messages}
        for name in ("max_tokens", "temperature", "stream", "tools"):
            value = (kwargs.get("optional_params") or {}).get(name)
            if value is not None:
                request[name] = value
        response = response_summary(_as_dict(response_obj)) if response_obj is not None else {}
        readable = all(isinstance(m, dict) for m in messages)
        system, user = prompts(request) if readable else ("", "")
        snap = state.source.current
        account = state.account(snap, key_hash)
        state.writer.write(
            {
                "request_id": slo.get("id") or kwargs.get("litellm_call_id"),
                "timestamp": int(float(slo.get("startTime") or time.time()) * 1000),
                "account_id": account,
                "api_key_id": key_hash,
                "client_ip": slo.get("requester_ip_address") or None,
                "user_agent": slo.get("user_agent") or None,
                "model": slo.get("model_group") or kwargs.get("model"),
                "endpoint": "chat/completions",
                "request": request,
                "response": response,
                "status": status,
                "gateway": {
                    "via": "litellm",
                    "action": snap.decision(account).action if snap is not None else None,
                    "cot_hint": max(cot_hint(user), cot_hint(system)),
                },
            }
        )
        state.writer.flush()  # LiteLLM gives callbacks no shutdown hook: a line is on disk when the call ends


def _as_dict(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump()
    return obj


native_logger = NativeLogger()
