"""Latency the gateway adds, and its behaviour under overload, on loopback.

    python benchmarks/gateway.py [--rates 500,2000] [--seconds 5] [--rounds 2] [--overload 10] [--pin] [--workdir DIR]

Starts the stand-in upstream and `distillguard gateway` (each its own process, on 127.0.0.1) over a small real
store, then drives fixed-rate open-loop arrivals (request i is sent at t0 + i / rate whether or not earlier
ones have answered) from a load generator on uvloop with its own minimal HTTP/1.1 keep-alive client: one
asyncio protocol per connection, each answer timed in its data callback (httpx, or even asyncio streams with a
task per request, cost more CPU per request than the stand-in upstream, which would measure the client; the
generator's own CPU time per request is printed to show it is not the bottleneck). For each rate it runs
"direct to the upstream" and "through the gateway" phases alternately, `--rounds` times, and reports p50/p99
of each and the difference. Then it offers `--overload` × the highest rate through the gateway and counts
200s, 429s and errors, stops the gateway (SIGTERM) and checks that the log holds one line per accepted request.
`--pin` puts the gateway on the last CPU and this process and the stand-in on the others (threads started later
inherit their creator's CPUs), so the gateway never waits for a core behind its own load generator.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, deque
from pathlib import Path

import numpy as np
import orjson
import psutil
import uvloop

BODY = orjson.dumps(
    {
        "model": "frontier-2",
        "messages": [
            {"role": "system", "content": "You are a helpful assistant for a logistics company."},
            {"role": "user", "content": "Summarise the delivery status of order 4411 in two sentences."},
        ],
        "max_tokens": 256,
    }
)
MAX_CONNECTIONS = 1024
WARM_CONNECTIONS = 32


def request_bytes(port: int) -> bytes:
    head = (
        f"POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\nauthorization: Bearer k-bench\r\n"
        f"content-type: application/json\r\ncontent-length: {len(BODY)}\r\n\r\n"
    )
    return head.encode() + BODY


class _Connection(asyncio.Protocol):
    """One keep-alive connection of the load generator, one request at a time. The answer is complete when its
    head and `content-length` bytes of body have arrived; it is timed right there in the callback (no task, no
    stream reader per request: those cost the generator more CPU than the stand-in upstream spends)."""

    def __init__(self, load: _Load) -> None:
        self.load = load
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.need = -1  # bytes of head + body of the answer in flight, once its head has arrived
        self.started = 0.0  # perf_counter when the request in flight was written; 0: idle
        self.status = ""

    def connection_made(self, transport) -> None:  # type: ignore[override]
        self.transport = transport

    def send(self) -> None:
        self.started = time.perf_counter()
        assert self.transport is not None
        self.transport.write(self.load.payload)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if self.need < 0:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.buf[:end]).lower()
            at = head.find(b"\r\ncontent-length:") + 17
            stop = head.find(b"\r\n", at)
            self.need = end + 4 + int(head[at : stop if stop > 0 else None])
            self.status = head[9:12].decode()
        if len(self.buf) >= self.need:
            del self.buf[: self.need]
            self.need = -1
            started, self.started = self.started, 0.0
            self.load.answered(self, self.status, started)

    def connection_lost(self, exc: Exception | None) -> None:
        self.load.lost(self)


class _Load:
    """Fixed-rate open-loop arrivals on up to MAX_CONNECTIONS keep-alive connections to 127.0.0.1:`port`."""

    def __init__(self, port: int, rate: float, seconds: float) -> None:
        self.port = port
        self.rate = rate
        self.n = int(rate * seconds)
        self.payload = request_bytes(port)
        self.idle: deque[_Connection] = deque()  # first in, first out: no connection idles into a keep-alive timeout
        self.open = 0
        self.outstanding = 0  # requests sent (or waiting for a connection) and not answered yet
        self.latencies: list[float] = []
        self.lag: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.done = asyncio.get_running_loop().create_future()
        self.scheduled = 0

    async def run(self) -> None:
        await asyncio.gather(*(self._connect(None) for _ in range(WARM_CONNECTIONS)))
        t0 = time.perf_counter() + 0.05
        for i in range(self.n):
            due = t0 + i / self.rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            self.scheduled += 1
            self.outstanding += 1
            self._send(due)
        self.offered_seconds = time.perf_counter() - t0
        if self.outstanding:
            try:
                await asyncio.wait_for(self.done, 60)
            except TimeoutError:
                self.statuses["no_answer"] += self.outstanding
        for conn in self.idle:
            assert conn.transport is not None
            conn.transport.close()

    def _send(self, due: float) -> None:
        if self.idle:
            conn = self.idle.popleft()
            self.lag.append(time.perf_counter() - due)
            conn.send()
        elif self.open >= MAX_CONNECTIONS:
            self.statuses["client_saturated"] += 1
            self._finished()
        else:
            asyncio.ensure_future(self._connect(due))

    async def _connect(self, due: float | None) -> None:
        self.open += 1
        try:
            _, conn = await asyncio.get_running_loop().create_connection(
                lambda: _Connection(self), "127.0.0.1", self.port
            )
        except OSError:
            self.open -= 1
            if due is not None:
                self.statuses["connect_error"] += 1
                self._finished()
            return
        if due is None:
            self.idle.append(conn)
        else:
            self.lag.append(time.perf_counter() - due)
            conn.send()

    def answered(self, conn: _Connection, status: str, started: float) -> None:
        self.latencies.append((time.perf_counter() - started) * 1000)
        self.statuses[status] += 1
        self.idle.append(conn)
        self._finished()

    def lost(self, conn: _Connection) -> None:
        self.open -= 1
        if conn.started:  # closed with a request in flight
            conn.started = 0.0
            self.statuses["error"] += 1
            self._finished()
        elif conn in self.idle:
            self.idle.remove(conn)

    def _finished(self) -> None:
        self.outstanding -= 1
        if self.outstanding == 0 and self.scheduled == self.n and not self.done.done():
            self.done.set_result(None)


async def phase(port: int, rate: float, seconds: float) -> dict:
    """Open-loop arrivals at `rate`/s for `seconds`; latencies (ms) of answered requests, status counts, and the
    load generator's own CPU time per request (to show it was not the bottleneck)."""
    cpu = time.process_time()
    load = _Load(port, rate, seconds)
    await load.run()
    cpu = time.process_time() - cpu
    lat = np.array(load.latencies) if load.latencies else np.zeros(1)
    return {
        "sent": load.n,
        "achieved_rate": load.n / load.offered_seconds,
        "p50": float(np.percentile(lat, 50)),
        "p99": float(np.percentile(lat, 99)),
        "statuses": dict(load.statuses),
        "send_lag_p99_ms": float(np.percentile(np.array(load.lag) * 1000, 99)) if load.lag else 0.0,
        "generator_cpu_us": cpu / max(1, load.n) * 1e6,
    }


def cpu_seconds(proc: subprocess.Popen) -> float:
    """CPU time of a process and its live children (uvicorn worker processes)."""
    parent = psutil.Process(proc.pid)
    total = 0.0
    for p in [parent, *parent.children(recursive=True)]:
        try:
            times = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def measured(port: int, rate: float, seconds: float, procs: dict[str, subprocess.Popen]) -> dict:
    """`phase`, plus the CPU time each server process spent per answered request (robust to a busy machine)."""
    before = {name: cpu_seconds(p) for name, p in procs.items()}
    result = uvloop.run(phase(port, rate, seconds))
    n = max(1, sum(v for k, v in result["statuses"].items() if k.isdigit()))
    result["cpu_us"] = {name: (cpu_seconds(p) - before[name]) / n * 1e6 for name, p in procs.items()}
    return result


def pin(gateway: subprocess.Popen, upstream: subprocess.Popen) -> None:
    """The gateway (with its worker processes and threads) on the last CPU, everything else on the rest: as
    deployed, where a gateway does not share its cores with its own load generator and upstream."""
    cpus = sorted(psutil.Process().cpu_affinity())
    if len(cpus) < 2:
        raise SystemExit("--pin needs at least 2 CPUs")
    mine, theirs = cpus[-1:], cpus[:-1]
    for p in [psutil.Process(gateway.pid), *psutil.Process(gateway.pid).children(recursive=True)]:
        for thread in p.threads():
            psutil.Process(thread.id).cpu_affinity(mine)
    for p in (psutil.Process(upstream.pid), psutil.Process()):
        for thread in p.threads():
            psutil.Process(thread.id).cpu_affinity(theirs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited: {proc.args}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"port {port} did not open")


def make_store(workdir: Path) -> Path:
    from distillguard.engines.duckdb_api import DuckDBAPI
    from distillguard.store.ingest import ingest

    db = workdir / "bench.duckdb"
    for f in (db, Path(str(db) + ".wal")):
        f.unlink(missing_ok=True)
    lines = [
        {
            "request_id": f"seed{i}",
            "timestamp": 1_770_000_000_000 + i,
            "account_id": f"acct_{i % 50}",
            "api_key_id": "k-bench" if i == 0 else f"k-{i % 50}",
            "request": orjson.loads(BODY),
        }
        for i in range(500)
    ]
    seed = workdir / "seed.jsonl"
    seed.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    with DuckDBAPI(db) as store:
        ingest(store, [seed])
        store.execute("""CREATE TABLE enforcement AS SELECT DISTINCT account_id,
                         CASE WHEN account_id = 'acct_0' THEN 'none' ELSE 'review' END AS action, 0.1 AS score,
                         NULL::VARCHAR AS campaign_id, '' AS reason, now()::TIMESTAMP AS decided_at FROM events""")
    return db


def answered(result: dict) -> int:
    """Requests the gateway accepted: answered with any status but the shedding 429 (the bench key is never
    throttled, so every 429 here is shedding)."""
    return sum(v for k, v in result["statuses"].items() if k.isdigit() and k != "429")


def count_lines(directory: Path) -> int:
    return sum(f.read_bytes().count(b"\n") for f in directory.glob("gateway-*.jsonl"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="500,2000")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--overload", type=float, default=10.0, help="multiple of the highest rate (0: skip)")
    ap.add_argument("--max-inflight", type=int, default=256)
    ap.add_argument("--workers", type=int, default=1, help="gateway worker processes")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/dg-gateway-bench"))
    ap.add_argument(
        "--pin",
        action="store_true",
        help="give the gateway the last CPU to itself; the load generator and the stand-in share the others",
    )
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    logs = args.workdir / "logs"
    for f in logs.glob("*"):
        f.unlink()
    db = make_store(args.workdir)
    up_port, gw_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    upstream = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, uvicorn; from distillguard.gateway.standin import create_standin; "
            "uvicorn.run(create_standin(), host='127.0.0.1', port=int(sys.argv[1]), log_level='warning', "
            "access_log=False)",
            str(up_port),
        ],
        env=env,
    )
    gateway = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "distillguard",
            "gateway",
            "--upstream",
            f"http://127.0.0.1:{up_port}",
            "--db",
            str(db),
            "--logs",
            str(logs),
            "--port",
            str(gw_port),
            "--max-inflight",
            str(args.max_inflight),
            "--workers",
            str(args.workers),
        ],
        env=env,
    )
    try:
        wait_port(up_port, upstream)
        wait_port(gw_port, gateway)
        procs = {"upstream": upstream, "gateway": gateway}
        if args.pin:
            pin(gateway, upstream)
        warm = uvloop.run(phase(gw_port, 200, 1))  # warm-up (connections, caches)
        print(
            f"python {platform.python_version()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}"
            + (", gateway pinned to its own CPU" if args.pin else "")
        )
        accepted = answered(warm)
        for rate in [float(r) for r in args.rates.split(",")]:
            direct, via = [], []
            for _ in range(args.rounds):
                direct.append(measured(up_port, rate, args.seconds, procs))
                via.append(measured(gw_port, rate, args.seconds, procs))
                accepted += answered(via[-1])
            for name, runs in (("direct", direct), ("gateway", via)):
                for r in runs:
                    print(
                        f"{rate:>6.0f}/s {name:>8}: achieved {r['achieved_rate']:7.0f}/s  p50 {r['p50']:6.2f} ms  "
                        f"p99 {r['p99']:7.2f} ms  send-lag p99 {r['send_lag_p99_ms']:6.2f} ms  CPU/request: gateway "
                        f"{r['cpu_us']['gateway']:.0f} us, upstream {r['cpu_us']['upstream']:.0f} us, generator "
                        f"{r['generator_cpu_us']:.0f} us  {r['statuses']}"
                    )
            for i, (d, v) in enumerate(zip(direct, via, strict=True)):
                print(
                    f"{rate:>6.0f}/s round {i + 1} added: p50 {v['p50'] - d['p50']:+.2f} ms, "
                    f"p99 {v['p99'] - d['p99']:+.2f} ms"
                )
        if args.overload:
            rate = args.overload * max(float(r) for r in args.rates.split(","))
            r = uvloop.run(phase(gw_port, rate, args.seconds))
            accepted += answered(r)
            print(
                f"overload {rate:.0f}/s offered, achieved {r['achieved_rate']:.0f}/s: {r['statuses']}  "
                f"p50 {r['p50']:.1f} ms p99 {r['p99']:.1f} ms; gateway alive: {gateway.poll() is None}"
            )
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(60)
        upstream.send_signal(signal.SIGTERM)
        upstream.wait(60)
    lines = count_lines(logs)
    print(
        f"log lines {lines:,}, requests accepted (answered, not shed) {accepted:,}: "
        f"{'equal' if lines == accepted else 'MISMATCH'}"
    )


if __name__ == "__main__":
    main()
