"""Same seed, same bytes; the three output formats carry the same requests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import zstandard

from distillguard.simulate import simulate

from .conftest import SMALL, Run, Runs


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_same_seed_same_bytes(small: Run, tmp_path: Path) -> None:
    again = simulate("standard", SMALL, 1, tmp_path)
    assert again.requests == small.summary.requests
    for name in ("logs.jsonl", "accounts.jsonl", "truth.jsonl"):
        assert _digest(tmp_path / name) == _digest(small.out / name), name


def test_other_seed_other_traffic(small: Run, runs: Runs) -> None:
    other = runs.get("standard", seed=2, scale=SMALL)
    assert _digest(other.out / "logs.jsonl") != _digest(small.out / "logs.jsonl")
    assert not set(other.truth) & set(small.truth)  # account ids depend on the seed too


def test_zstd_holds_the_jsonl_bytes(small: Run, runs: Runs) -> None:
    zst = runs.get("standard", fmt="jsonl.zst", scale=SMALL)
    raw = zstandard.ZstdDecompressor().stream_reader((zst.out / "logs.jsonl.zst").open("rb"), read_across_frames=True)
    assert raw.read() == (small.out / "logs.jsonl").read_bytes()


def test_parquet_holds_the_same_requests(small: Run, runs: Runs) -> None:
    table = pq.read_table(runs.get("standard", fmt="parquet", scale=SMALL).out / "logs.parquet")
    assert str(table.schema.field("request").type) == "extension<arrow.json>"
    assert table.num_rows == len(small.logs)
    rows = table.take(list(range(0, table.num_rows, 97))).to_pylist()
    for p, line in zip(rows, small.lines[::97], strict=True):
        j = orjson.loads(line)
        ts = p.pop("timestamp")
        assert ts.isoformat(timespec="milliseconds").replace("+00:00", "Z") == j["timestamp"]
        p["request"], p["response"] = orjson.loads(p["request"]), orjson.loads(p["response"])
        assert p == {k: v for k, v in j.items() if k != "timestamp"}
