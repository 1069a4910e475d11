"""Online enforcement: an ASGI proxy in front of an LLM API, LiteLLM hooks, and the sign-up risk score.

`distillguard.gateway.app.create_app(GatewayConfig(...))` is the proxy; `distillguard gateway` runs it with
uvicorn. See docs/gateway.md. Nothing is imported here: every `distillguard` command imports this package to
register its commands, and the server stack (uvicorn, aiohttp) is for `distillguard gateway` alone.
"""
