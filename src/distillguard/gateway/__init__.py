"""Online enforcement: an ASGI proxy in front of an LLM API, LiteLLM hooks, and the sign-up risk score.

`create_app(GatewayConfig(...))` is the proxy; `distillguard gateway` runs it with uvicorn. See docs/gateway.md.
"""

from distillguard.gateway.app import create_app
from distillguard.gateway.config import GatewayConfig

__all__ = ["GatewayConfig", "create_app"]
