"""Online enforcement: an ASGI proxy in front of an LLM API, LiteLLM hooks, and the sign-up risk score.

`create_app(GatewayConfig(...))` is the proxy; `distillguard gateway` runs it with uvicorn. See docs/gateway.md.
"""

from typing import Any

__all__ = ["GatewayConfig", "create_app"]


def __getattr__(name: str) -> Any:
    """Imported on first use: every `distillguard` command imports this package to register its commands, and
    the server stack (uvicorn, aiohttp) costs ~0.2 s that only `distillguard gateway` needs."""
    if name == "create_app":
        from distillguard.gateway.app import create_app

        return create_app
    if name == "GatewayConfig":
        from distillguard.gateway.config import GatewayConfig

        return GatewayConfig
    raise AttributeError(name)
