"""Ingest throughput: ours vs DuckDB's own `read_json` of the same file, in the same run.

    python benchmarks/ingest.py [--rows 1000000] [--rounds 1] [--workdir /tmp/dg-bench]

Builds a native JSON Lines file of realistic requests (multi-turn conversations, system prompts, tool
definitions, content blocks, response bodies) once, then times, each in a fresh subprocess so peak RSS is
the subprocess's own: (a) `distillguard ingest` into a new store, (b) DuckDB `CREATE TABLE AS SELECT * FROM
read_json(...)` of the same file into a new database file. Prints rows/s, the ratio, and peak RSS; with
`--rounds N` the pair runs N times back to back and each round's ratio is printed with their median (on a shared
machine one pair can land in a noisy moment).
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import sys
from pathlib import Path

import orjson
from child import child

WORDS = [
    "analyse",
    "the",
    "data",
    "function",
    "return",
    "value",
    "error",
    "model",
    "train",
    "test",
    "dataset",
    "code",
    "python",
    "write",
    "explain",
    "step",
    "reason",
    "answer",
    "question",
    "table",
    "column",
    "query",
    "optimise",
    "performance",
    "memory",
    "list",
    "sort",
    "file",
    "read",
    "parse",
    "json",
    "api",
    "request",
    "response",
    "user",
    "account",
    "network",
    "graph",
    "cluster",
    "score",
    "feature",
    "vector",
    "matrix",
    "loop",
    "class",
    "method",
    "because",
    "therefore",
    "however",
    "first",
    "second",
    "finally",
    "result",
    "output",
    "input",
    "example",
    "case",
    "test",
    "input",
    "token",
]
SYSTEMS = [
    "You are a helpful assistant.",
    "You are an expert data analyst. Give complete and transparent reasoning for every step.",
    "You are a senior software engineer. Answer with working code and a short explanation.",
    None,
]
TOOLS = [
    {
        "name": "run_python",
        "description": "Execute Python code",
        "input_schema": {"type": "object", "properties": {"code": {"type": "string"}}, "required": ["code"]},
    },
    {
        "name": "search",
        "description": "Search the web",
        "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
    },
]


def _text(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(lo, hi)))


def build(path: Path, rows: int, seed: int = 7) -> None:
    """Write `rows` native requests to `path` (skipped when it already holds them)."""
    if path.exists() and sum(1 for _ in path.open("rb")) == rows:
        return
    rng = random.Random(seed)
    t0 = 1_769_904_000_000  # 2026-02-01T00:00:00Z in ms
    with path.open("wb") as f:
        for i in range(rows):
            turns = rng.choice((1, 1, 1, 2, 3))
            messages: list[dict] = []
            for t in range(turns):
                if t:
                    messages.append({"role": "assistant", "content": _text(rng, 20, 120)})
                content: object = _text(rng, 10, 250)
                if rng.random() < 0.2:
                    content = [{"type": "text", "text": content}]
                messages.append({"role": "user", "content": content})
            request: dict = {"messages": messages, "max_tokens": rng.choice((1024, 4096, 8192))}
            system = rng.choice(SYSTEMS)
            if system:
                request["system"] = system
            if rng.random() < 0.25:
                request["tools"] = TOOLS
            record = {
                "request_id": f"req_{i:010d}",
                "timestamp": t0 + i * 2_000 + rng.randint(0, 999),
                "account_id": f"acct_{rng.randint(1, 50_000):06d}",
                "org_id": f"org_{rng.randint(1, 5_000)}",
                "api_key_id": f"key_{rng.randint(1, 80_000)}",
                "client_ip": f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}",
                "user_agent": rng.choice(("anthropic-python/0.49.0", "openai-python/1.63.0", "curl/8.5.0")),
                "tls_fingerprint": "t13d1516h2_8daaf6152771_b0da82dd1658",
                "model": rng.choice(("frontier-2", "frontier-2-mini")),
                "endpoint": "messages",
                "request": request,
                "response": {
                    "text": _text(rng, 30, 400),
                    "input_tokens": rng.randint(50, 4000),
                    "output_tokens": rng.randint(50, 4000),
                    "stop_reason": "end_turn",
                },
                "status": 200,
            }
            f.write(orjson.dumps(record) + b"\n")


DUCKDB_READ = """
import duckdb, sys
con = duckdb.connect(sys.argv[2])
con.execute("CREATE TABLE raw AS SELECT * FROM read_json(?, format='newline_delimited')", [sys.argv[1]])
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=1, help="run the pair this many times")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/dg-bench"))
    args = ap.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    logs = args.workdir / f"native_{args.rows}.jsonl"
    build(logs, args.rows)
    size_mb = logs.stat().st_size / 1e6
    print(
        f"machine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores, "
        f"python {platform.python_version()}"
    )
    print(f"input: {logs} — {args.rows:,} requests, {size_mb:,.0f} MB")
    ratios = []
    for round_no in range(1, args.rounds + 1):
        results = {}
        # DuckDB's reader runs first, then ours: each in a fresh child, each into a new file.
        for name, cmd in (
            ("duckdb read_json", [sys.executable, "-c", DUCKDB_READ, str(logs), str(args.workdir / "raw.duckdb")]),
            (
                "distillguard ingest",
                [sys.executable, "-m", "distillguard", "ingest", str(logs), "--db", str(args.workdir / "store.duckdb")],
            ),
        ):
            for f in args.workdir.glob("*.duckdb*"):
                f.unlink()
            seconds, rss = child(cmd)
            results[name] = seconds
            print(
                f"{name:22s} {seconds:7.2f} s  {args.rows / seconds:12,.0f} rows/s  {size_mb / seconds:7.1f} MB/s  "
                f"peak RSS {rss:,.0f} MB"
            )
        ratios.append(results["duckdb read_json"] / results["distillguard ingest"])
        print(f"round {round_no}: ratio (ours / duckdb raw read, throughput): {ratios[-1]:.2f}  (target >= 0.5)")
    if len(ratios) > 1:
        print(f"ratios {', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
