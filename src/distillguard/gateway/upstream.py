"""The connection to the upstream API: a small HTTP/1.1 client with a keep-alive pool, whole bodies or streamed.

Why our own client: the gateway's whole budget is well under a millisecond of CPU per request, and a general
client spends a large share of it on things a reverse proxy to one fixed upstream never uses (cookies,
redirects, proxies, auth, tracing hooks, a request and a response object rebuilt from dictionaries). Measured
on this project's benchmark machine (docs/benchmarks.md, "Gateway"): httpx + httpcore ~1.9 ms of CPU per
proxied request, aiohttp ~115 µs in a closed loop, this client ~50 µs in the same loop. It is an `asyncio.Protocol` per
connection with `httptools` (the C parser uvicorn uses) reading the answer, so status, headers and body arrive
as callbacks, and chunked or length-framed bodies are decoded in C.

What it does: one request at a time per connection; at most `connections` open (callers wait for a free one,
first come first served); a connection goes back to the pool when its answer has been read to the end and the
upstream did not ask to close. `timeout` is the longest silence allowed while waiting for the answer (like a
socket read timeout), so a long stream that keeps sending is never cut. An idempotent request that finds a
pooled connection already closed by the upstream (its keep-alive timeout) is retried once on a new one; other
requests are not replayed (RFC 9112 §9.3.1), as aiohttp did.
"""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httptools

CONNECT_TIMEOUT = 10.0
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
HIGH_WATER = 1 << 16  # streamed bytes buffered for a slow client before reading from the upstream pauses


class UpstreamError(Exception):
    """The upstream could not be reached or broke off; `status` is what the gateway answers (502 or 504)."""

    def __init__(self, status: int, kind: str) -> None:
        super().__init__(kind)
        self.status = status
        self.kind = kind


class UpstreamResponse:
    """Status and headers at once; the body read whole (`read`) or chunk by chunk (`chunks`), then `close`.

    `headers` are the upstream's, as (lower-case name, value) byte pairs, the form ASGI servers take."""

    def __init__(self, conn: _Connection, head_only: bool) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.content_type = ""
        self._conn: _Connection | None = conn
        self._head_only = head_only
        self._framed = False  # Content-Length or chunked: else the body ends when the upstream closes
        self._received = False  # any byte of the answer arrived (a reused connection that got none was stale)
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._streaming = False  # read by `chunks`: bound the buffer (`read` wants the whole body anyway)
        self._headers_done = False
        self._complete = False
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None

    async def read(self) -> bytes:
        """The whole body."""
        try:
            while not self._complete:
                await self._wait()
            return b"".join(self._chunks)
        finally:
            self.close()

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body as it arrives (the caller `close`s when done or gone)."""
        self._streaming = True
        while True:
            while self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                yield chunk
            if self._complete:
                return
            if self._conn is not None and self._conn.paused:
                self._conn.resume()
            await self._wait()

    def close(self) -> None:
        """Done with this answer: its connection goes back to the pool if the answer was read to the end, else it
        is closed (an unread remainder would otherwise be taken for the next answer)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.finished(reuse=False)

    # ------------------------------------------------------------------------------ called by the connection

    async def _wait(self) -> None:
        if self._error is not None:
            raise self._error
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
        if self._error is not None:
            raise self._error

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _fail(self, error: UpstreamError) -> None:
        if not self._complete:
            self._error = error
            self._wake()


class _Connection(asyncio.Protocol):
    """One keep-alive connection to the upstream; `httptools` calls the `on_*` methods while parsing."""

    def __init__(self, pool: Upstream) -> None:
        self.pool = pool
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.response: UpstreamResponse | None = None
        self.closed = False
        self.paused = False
        self.reused = False
        self.last_data = 0.0  # loop time when data last arrived for the answer in flight
        self.timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------------------------------ requests

    def send(self, head: bytes, body: bytes, head_only: bool) -> UpstreamResponse:
        assert self.transport is not None
        self.response = response = UpstreamResponse(self, head_only)
        if len(body) < 65536:
            self.transport.write(head + body)  # one write, one segment for an ordinary request
        else:
            self.transport.write(head)
            self.transport.write(body)
        loop = asyncio.get_running_loop()
        self.last_data = loop.time()
        self.timer = loop.call_at(self.last_data + self.pool.timeout, self._tick)
        return response

    def finished(self, reuse: bool) -> None:
        """The answer in flight is done with: back to the pool (`reuse`, the answer was complete) or closed."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        self.response = None
        if reuse and not self.closed:
            if self.paused:
                self.resume()
            self.reused = True
            self.pool._release(self)
        else:
            self._close()

    def resume(self) -> None:
        self.paused = False
        if self.transport is not None and not self.closed:
            self.transport.resume_reading()

    def _tick(self) -> None:
        """A socket-read timeout that costs one timer per answer, not one per chunk: data arriving only records
        the time, and the timer, when it fires, checks how long the silence has lasted."""
        response = self.response
        if response is None:
            return
        deadline = self.last_data + self.pool.timeout
        loop = asyncio.get_running_loop()
        if loop.time() < deadline:
            self.timer = loop.call_at(deadline, self._tick)
            return
        # no answer at all: 504 as a timeout; silence in the middle of a body: the body broke off
        response._fail(UpstreamError(504, "upstream_timeout") if not response._headers_done else _unavailable())
        self._close()

    def _close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.closed:
            self.closed = True
            self.pool._discard(self)
            if self.transport is not None:
                self.transport.close()

    # ------------------------------------------------------------------------------------------ asyncio

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        response = self.response
        if response is None:  # bytes nobody asked for: this connection can no longer be trusted
            self._close()
            return
        response._received = True
        self.last_data = asyncio.get_running_loop().time()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            response._fail(_unavailable())
            self._close()

    def connection_lost(self, exc: Exception | None) -> None:
        was_closed, self.closed = self.closed, True
        if not was_closed:
            self.pool._discard(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        response = self.response
        if response is None or response._complete or response._error is not None:
            return
        if response._headers_done and not response._framed:
            self.on_message_complete()  # a body delimited by the end of the connection
        else:
            response._fail(_unavailable())

    # ------------------------------------------------------------------------------------------ httptools

    def on_header(self, name: bytes, value: bytes) -> None:
        assert self.response is not None
        name = name.lower()
        if name == b"content-length" or (name == b"transfer-encoding" and b"chunked" in value.lower()):
            self.response._framed = True
        elif name == b"content-type" and not self.response.content_type:
            self.response.content_type = value.decode("latin-1")
        self.response.headers.append((name, value))

    def on_headers_complete(self) -> None:
        response = self.response
        assert response is not None
        status = self.parser.get_status_code()
        if status < 200:  # an interim answer (103 Early Hints): the real one follows
            response.headers.clear()
            response.content_type = ""
            response._framed = False
            return
        response.status = status
        response._headers_done = True
        if response._head_only:  # no body follows, whatever Content-Length says; the parser would wait for one
            response._complete = True
            response._conn = None
            self.finished(reuse=False)
        response._wake()

    def on_body(self, body: bytes) -> None:
        response = self.response
        assert response is not None
        response._chunks.append(body)
        response._buffered += len(body)
        if response._streaming and response._buffered > HIGH_WATER and not self.paused and self.transport:
            self.paused = True
            self.transport.pause_reading()
        response._wake()

    def on_message_complete(self) -> None:
        response = self.response
        if response is None or not response._headers_done:
            return  # the end of an interim answer
        response._complete = True
        response._conn = None
        self.finished(reuse=self.parser.should_keep_alive())
        response._wake()


def _unavailable() -> UpstreamError:
    return UpstreamError(502, "upstream_unavailable")


class Upstream:
    """A pool of keep-alive connections to one upstream base URL."""

    def __init__(self, base_url: str, connections: int, timeout: float) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        self.connections = connections
        self.timeout = timeout
        self._host = parts.hostname or "127.0.0.1"
        self._ssl = ssl.create_default_context() if parts.scheme == "https" else None
        self._port = parts.port or (443 if self._ssl else 80)
        netloc = parts.netloc.rsplit("@", 1)[-1]
        self._host_header = netloc.removesuffix(":443" if self._ssl else ":80").encode()
        self._prefix = parts.path.encode()  # a base URL with a path: prepended to every request's path
        self._idle: list[_Connection] = []  # last in, first out: the warmest connection is used next
        self._open = 0
        self._waiters: deque[asyncio.Future[_Connection | None]] = deque()
        self._closing = False

    async def start(self) -> None:
        self._closing = False

    async def close(self) -> None:
        self._closing = True
        for conn in list(self._idle):
            conn._close()
        self._idle.clear()

    async def send(
        self, method: str, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> UpstreamResponse:
        """Send a request (`target`: path and query as the client wrote them); returns once the status line and
        headers arrived."""
        lines = [b"%s %s%s HTTP/1.1\r\nhost: %s\r\n" % (method.encode(), self._prefix, target, self._host_header)]
        lines.extend(b"%s: %s\r\n" % pair for pair in headers)
        lines.append(b"content-length: %d\r\n\r\n" % len(body))
        head = b"".join(lines)
        head_only = method == "HEAD"
        for attempt in (0, 1):
            conn = await self._acquire()
            reused = conn.reused
            response = conn.send(head, body, head_only)
            try:
                while not response._headers_done:
                    await response._wait()
            except UpstreamError:
                response.close()
                stale = reused and not response._received
                if attempt == 0 and stale and method in IDEMPOTENT:
                    continue  # the upstream had closed this pooled connection: once more, on another
                raise
            except BaseException:
                response.close()
                raise
            return response
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------------------------------ the pool

    async def _acquire(self) -> _Connection:
        while True:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed:
                    return conn
            if self._open < self.connections:
                break
            waiter: asyncio.Future[_Connection | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                conn = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled() and waiter.result() is not None:
                    self._release(waiter.result())  # handed over just as the caller was cancelled
                raise
            if conn is not None:
                return conn
            # None: a connection was closed; look again (someone else may have taken the room meanwhile)
        self._open += 1
        try:
            _, conn = await asyncio.wait_for(
                asyncio.get_running_loop().create_connection(
                    lambda: _Connection(self), self._host, self._port, ssl=self._ssl
                ),
                CONNECT_TIMEOUT,
            )
        except TimeoutError as e:
            self._discarded()
            raise UpstreamError(504, "upstream_timeout") from e
        except OSError as e:
            self._discarded()
            raise _unavailable() from e
        except BaseException:
            self._discarded()
            raise
        return conn

    def _release(self, conn: _Connection) -> None:
        if self._closing:
            conn._close()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    def _discard(self, conn: _Connection) -> None:
        """A connection closed (by either side)."""
        if conn in self._idle:
            self._idle.remove(conn)
        self._discarded()

    def _discarded(self) -> None:
        self._open -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
