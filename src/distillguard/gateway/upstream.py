"""The connection to the upstream API: aiohttp, one session with a keep-alive pool, streaming or whole bodies.

Why aiohttp and not httpx (the issue's suggestion): measured on this project's benchmark machine, httpx +
httpcore cost ~1.9 ms of CPU per proxied request, and httpcore's pool re-scans every connection for every
queued request, so the cost grows exactly when the gateway is loaded (docs/benchmarks.md, "Gateway"). aiohttp's
client (C-accelerated parser, a pool that does not re-scan) costs ~115 µs in a closed loop. A purpose-built
HTTP/1.1 client measured ~50 µs and was not kept: HTTP framing, pooling and retries are exactly the code a
security product should take from a maintained library. Clients of the gateway are unaffected: the tests drive
it with httpx.

Headers cross this module as (lower-case name, value) byte pairs, the form ASGI servers take and give.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import aiohttp
from yarl import URL


class UpstreamError(Exception):
    """The upstream could not be reached or broke off; `status` is what the gateway answers (502 or 504)."""

    def __init__(self, status: int, kind: str) -> None:
        super().__init__(kind)
        self.status = status
        self.kind = kind


class UpstreamResponse:
    """Status and headers at once; the body read whole (`read`) or chunk by chunk (`chunks`), then `close`."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response
        self.status = response.status
        self.headers: list[tuple[bytes, bytes]] = [(k.lower(), v) for k, v in response.raw_headers]
        self.content_type = response.headers.get("content-type", "")

    async def read(self) -> bytes:
        try:
            return await self._response.read()
        except TimeoutError as e:
            raise UpstreamError(504, "upstream_timeout") from e
        except aiohttp.ClientError as e:
            raise UpstreamError(502, "upstream_unavailable") from e
        finally:
            self._response.release()

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.content.iter_any():
                yield chunk
        except TimeoutError as e:
            raise UpstreamError(504, "upstream_timeout") from e
        except aiohttp.ClientError as e:
            raise UpstreamError(502, "upstream_unavailable") from e

    def close(self) -> None:
        self._response.release()


class Upstream:
    """A pool of keep-alive connections to one upstream base URL.

    `timeout` is the longest silence allowed while waiting for the answer (a socket read timeout), so a long
    stream that keeps sending is never cut.
    """

    def __init__(self, base_url: str, connections: int, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.connections = connections
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        # The system's trusted roots as they are when the gateway starts (SSL_CERT_FILE included).
        tls = ssl.create_default_context() if self.base_url.startswith("https:") else False
        connector = aiohttp.TCPConnector(limit=self.connections, ttl_dns_cache=300, ssl=tls)
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=10, sock_read=self.timeout)
        # No cookie jar: the session is shared by every client of the gateway, and a jar would hand the cookies
        # the upstream set for one client to the next one's requests (Set-Cookie still reaches its own client).
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=timeout,
            auto_decompress=False,
            skip_auto_headers=("User-Agent",),
            cookie_jar=aiohttp.DummyCookieJar(),
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def send(
        self, method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> UpstreamResponse:
        """Send a request (`target`: path and query as the client wrote them); returns once the status line and
        headers arrived."""
        assert self._session is not None, "start() first"
        url = URL(self.base_url + target.decode("latin-1"), encoded=True)
        try:
            response = await self._session.request(
                method, url, headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers], data=body
            )
        except TimeoutError as e:
            raise UpstreamError(504, "upstream_timeout") from e
        except aiohttp.ClientError as e:
            raise UpstreamError(502, "upstream_unavailable") from e
        return UpstreamResponse(response)
