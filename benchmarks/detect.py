"""End-to-end detection time and memory: simulate (once, cached) → ingest → detect, each in a child process.

    python benchmarks/detect.py [--scenario standard] [--scale 0.1] [--seed 1] [--workdir /tmp/dg-detect]

Prints wall seconds and peak RSS for `distillguard ingest` and `distillguard detect` separately and together
(issue target at scale 0.1 = 3.2M requests: ingest + detect <= 3 min, peak RSS <= 6 GB).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from pathlib import Path

from child import child


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="standard")
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/dg-detect"))
    args = ap.parse_args()
    sim = args.workdir / f"{args.scenario}-{args.scale}-{args.seed}"
    dg = [sys.executable, "-m", "distillguard"]
    if not (sim / "truth.jsonl").exists():
        subprocess.run(
            [
                *dg,
                "simulate",
                "--scenario",
                args.scenario,
                "--scale",
                str(args.scale),
                "--seed",
                str(args.seed),
                "--out",
                str(sim),
            ],
            check=True,
        )
    db = sim / "store.duckdb"
    for f in sim.glob("store.duckdb*"):
        f.unlink()
    requests = sum(1 for _ in (sim / "logs.jsonl").open("rb"))
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"scenario {args.scenario} scale {args.scale} seed {args.seed}: {requests:,} requests")
    ingest_s, ingest_rss = child(
        [*dg, "ingest", str(sim / "logs.jsonl"), "--accounts", str(sim / "accounts.jsonl"), "--db", str(db)]
    )
    detect_s, detect_rss = child([*dg, "detect", "--db", str(db), "--out", str(sim / "detections")])
    print(f"ingest  {ingest_s:7.1f} s  {requests / ingest_s:10,.0f} req/s  peak RSS {ingest_rss:,.0f} MB")
    print(f"detect  {detect_s:7.1f} s  {requests / detect_s:10,.0f} req/s  peak RSS {detect_rss:,.0f} MB")
    print(
        f"total   {ingest_s + detect_s:7.1f} s  (target <= 180 s at scale 0.1)  peak RSS "
        f"{max(ingest_rss, detect_rss):,.0f} MB (target <= 6,144 MB)"
    )


if __name__ == "__main__":
    main()
