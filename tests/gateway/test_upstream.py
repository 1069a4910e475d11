"""The gateway's upstream connection (`upstream.py`, aiohttp underneath) against raw asyncio servers that
answer in every way an upstream might: length-framed, chunked, delimited by closing, slowly, not at all, or by
closing a pooled connection."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from distillguard.gateway.upstream import Upstream, UpstreamError

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One request's head and body (bodies are always length-framed by this client)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(int(line[15:]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    return head, await reader.readexactly(length)


def run(
    handler: Handler, test: Callable[[Upstream, dict], Awaitable[None]], timeout: float = 5.0, host: str = "127.0.0.1"
) -> dict:
    """Start a server with `handler` per connection, run `test` with a client pool to it; the server's notes."""
    notes: dict = {"connections": 0, "requests": []}

    async def main() -> None:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            notes["connections"] += 1
            try:
                await handler(reader, writer)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        upstream = Upstream(f"http://{host}:{port}/base", connections=2, timeout=timeout)
        await upstream.start()
        try:
            await test(upstream, notes)
        finally:
            await upstream.close()
            server.close()

    asyncio.run(main())
    return notes


def keep_alive(answer: bytes) -> Handler:
    """Answers every request on the connection with `answer`."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head, body = await read_request(reader)
            handler.requests.append((head, body))  # type: ignore[attr-defined]
            writer.write(answer)
            await writer.drain()

    handler.requests = []  # type: ignore[attr-defined]
    return handler


def test_length_framed_answers_reuse_one_connection_and_forward_headers_and_body() -> None:
    server = keep_alive(
        b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Up: 1\r\nContent-Length: 2\r\n\r\n{}"
    )

    async def test(upstream: Upstream, notes: dict) -> None:
        for _ in range(3):
            r = await upstream.send("POST", b"/v1/x?a=%20", [(b"authorization", b"Bearer k")], b"hello")
            assert (r.status, r.content_type, await r.read()) == (201, "application/json", b"{}")
            assert (b"x-up", b"1") in r.headers

    notes = run(server, test)
    assert notes["connections"] == 1  # kept alive and reused
    head, body = server.requests[0]  # type: ignore[attr-defined]
    assert head.startswith(b"POST /base/v1/x?a=%20 HTTP/1.1\r\n") and b"authorization: Bearer k\r\n" in head
    assert b"host: 127.0.0.1:" in head.lower() and body == b"hello"


def test_cookies_one_client_was_given_never_reach_another_clients_request() -> None:
    server = keep_alive(b"HTTP/1.1 200 OK\r\nSet-Cookie: session=alice-secret; Path=/\r\nContent-Length: 2\r\n\r\nok")

    async def test(upstream: Upstream, notes: dict) -> None:
        for who in (b"alice", b"bob"):
            r = await upstream.send("POST", b"/v1/x", [(b"authorization", b"Bearer " + who)], b"{}")
            assert (b"set-cookie", b"session=alice-secret; Path=/") in r.headers  # passed back to its client
            await r.read()

    run(server, test, host="localhost")  # a host name: cookie jars refuse cookies from bare addresses
    bob = server.requests[1][0]  # type: ignore[attr-defined]
    assert b"Bearer bob" in bob and b"alice-secret" not in bob


def test_chunked_answer_streams_chunk_by_chunk() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        for event in (b"data: 1\n\n", b"data: 2\n\n"):
            writer.write(b"%x\r\n%s\r\n" % (len(event), event))
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        await reader.read()

    async def test(upstream: Upstream, notes: dict) -> None:
        r = await upstream.send("POST", b"/s", [], b"{}")
        assert r.content_type == "text/event-stream"
        got = [chunk async for chunk in r.chunks()]
        r.close()
        assert b"".join(got) == b"data: 1\n\ndata: 2\n\n" and len(got) == 2

    run(handler, test)


def test_body_delimited_by_closing_the_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
        await writer.drain()

    async def test(upstream: Upstream, notes: dict) -> None:
        r = await upstream.send("GET", b"/", [], b"")
        assert await r.read() == b"all of it"
        r = await upstream.send("GET", b"/", [], b"")  # a new connection: the old one was closed
        assert await r.read() == b"all of it"

    assert run(handler, test)["connections"] == 2


def test_unreachable_upstream_is_502() -> None:
    async def main() -> None:
        upstream = Upstream("http://127.0.0.1:9", connections=2, timeout=5)  # port 9 (discard): nothing listens
        await upstream.start()
        with pytest.raises(UpstreamError) as e:
            await upstream.send("POST", b"/", [], b"{}")
        assert (e.value.status, e.value.kind) == (502, "upstream_unavailable")
        await upstream.close()

    asyncio.run(main())


def test_silent_upstream_times_out_with_504_and_a_broken_body_is_502() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await reader.read()  # never answers

    async def test_silent(upstream: Upstream, notes: dict) -> None:
        with pytest.raises(UpstreamError) as e:
            await upstream.send("POST", b"/", [], b"{}")
        assert (e.value.status, e.value.kind) == (504, "upstream_timeout")

    run(silent, test_silent, timeout=0.2)

    async def broken(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")
        await writer.drain()  # then closes, 91 bytes short

    async def test_broken(upstream: Upstream, notes: dict) -> None:
        r = await upstream.send("POST", b"/", [], b"{}")
        with pytest.raises(UpstreamError) as e:
            await r.read()
        assert e.value.status == 502

    run(broken, test_broken)


def test_idempotent_request_on_a_pooled_connection_the_upstream_closed_is_retried_once() -> None:
    """The upstream answers once per connection and then closes it without saying so (`Connection: close` is
    missing), as a server whose keep-alive timeout fires just as the next request is sent."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
        await read_request(reader)  # the next request arrives, and the connection closes unanswered

    async def test(upstream: Upstream, notes: dict) -> None:
        assert await (await upstream.send("GET", b"/", [], b"")).read() == b"ok"
        assert await (await upstream.send("GET", b"/", [], b"")).read() == b"ok"  # retried on a new connection
        with pytest.raises(UpstreamError):  # a POST on the pooled (second) connection is not replayed
            await upstream.send("POST", b"/", [], b"{}")
        assert await (await upstream.send("POST", b"/", [], b"{}")).read() == b"ok"  # the pool is empty: new one

    assert run(handler, test)["connections"] == 3


def test_pool_limit_makes_callers_wait_for_a_free_connection() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            await asyncio.sleep(0.02)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()

    async def test(upstream: Upstream, notes: dict) -> None:
        async def one() -> bytes:
            return await (await upstream.send("POST", b"/", [], b"{}")).read()

        assert await asyncio.gather(*(one() for _ in range(6))) == [b"ok"] * 6

    assert run(handler, test)["connections"] == 2  # the pool's limit


def test_head_answer_has_no_body_whatever_its_length_says() -> None:
    server = keep_alive(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")

    async def test(upstream: Upstream, notes: dict) -> None:
        r = await upstream.send("HEAD", b"/", [], b"")
        assert (r.status, await r.read()) == (200, b"")

    run(server, test)


def test_interim_answer_is_skipped() -> None:
    server = keep_alive(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    async def test(upstream: Upstream, notes: dict) -> None:
        r = await upstream.send("POST", b"/", [], b"{}")
        assert (r.status, r.headers, await r.read()) == (200, [(b"content-length", b"2")], b"ok")

    run(server, test)


def test_large_stream_read_slowly_arrives_whole_and_an_abandoned_one_is_not_reused() -> None:
    """More than the client buffers (reading from the upstream pauses and resumes), and a stream left half-read
    (the gateway's client went away) closes its connection rather than leave its rest for the next answer."""
    part = b"x" * 50_000

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            await read_request(reader)
            writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            for _ in range(8):
                writer.write(b"%x\r\n%s\r\n" % (len(part), part))
            writer.write(b"0\r\n\r\n")
            await writer.drain()

    async def test(upstream: Upstream, notes: dict) -> None:
        r = await upstream.send("GET", b"/", [], b"")
        total = 0
        async for chunk in r.chunks():
            total += len(chunk)
            await asyncio.sleep(0.001)
        r.close()
        assert total == 8 * len(part)
        r = await upstream.send("GET", b"/", [], b"")  # reuses the first connection
        async for _ in r.chunks():
            break
        r.close()
        r = await upstream.send("GET", b"/", [], b"")  # needs a new one
        assert len(await r.read()) == 8 * len(part)

    assert run(handler, test)["connections"] == 2


def test_https_upstream_verifies_its_certificate_and_keeps_the_connection(tmp_path, monkeypatch) -> None:
    """A real API is reached over TLS: the certificate is checked against the trusted roots (here a
    self-signed one made trusted through SSL_CERT_FILE) and the connection is kept alive like a plain one."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    connections = []

    async def main() -> None:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            connections.append(writer)
            try:
                while True:
                    head, _ = await read_request(reader)
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(head), head))
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_tls)
        port = server.sockets[0].getsockname()[1]
        untrusted = Upstream(f"https://localhost:{port}", connections=2, timeout=5)
        await untrusted.start()
        with pytest.raises(UpstreamError) as e:  # not signed by a trusted root: refused
            await untrusted.send("POST", b"/v1/x", [], b"{}")
        assert e.value.status == 502
        await untrusted.close()
        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
        upstream = Upstream(f"https://localhost:{port}", connections=2, timeout=5)
        await upstream.start()
        for _ in range(2):
            r = await upstream.send("POST", b"/v1/x", [], b"{}")
            assert (await r.read()).lower().startswith(b"post /v1/x http/1.1\r\nhost: localhost:%d\r\n" % port)
        await upstream.close()
        server.close()

    asyncio.run(main())
    assert len(connections) == 1  # one kept-alive connection for both requests (the refused one never got here)
