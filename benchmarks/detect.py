"""End-to-end detection time and memory: simulate (once, cached) → ingest → detect, each in a child process.

    python benchmarks/detect.py [--scenario standard] [--scale 0.1] [--seed 1] [--workdir /tmp/dg-detect]
                                [--format jsonl|jsonl.zst]

Prints wall seconds and peak RSS for `distillguard ingest` and `distillguard detect` separately and together
(issue target at scale 0.1 = 3.2M requests: ingest + detect <= 3 min, peak RSS <= 6 GB), then the quality of
the detections against the simulator's truth. `--format jsonl.zst` keeps the article scale (32M requests,
~63 GB as plain JSON Lines) within the disk.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from pathlib import Path

import orjson
from child import child

from distillguard.evaluate import evaluate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", default="standard")
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/dg-detect"))
    ap.add_argument("--format", default="jsonl", choices=["jsonl", "jsonl.zst"])
    args = ap.parse_args()
    sim = args.workdir / f"{args.scenario}-{args.scale}-{args.seed}"
    logs = sim / f"logs.{args.format}"
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
                "--format",
                args.format,
            ],
            check=True,
        )
    db = sim / "store.duckdb"
    for f in sim.glob("store.duckdb*"):
        f.unlink()
    requests = _requests(sim / "truth.jsonl")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(f"scenario {args.scenario} scale {args.scale} seed {args.seed}: {requests:,} requests")
    ingest_s, ingest_rss = child([*dg, "ingest", str(logs), "--accounts", str(sim / "accounts.jsonl"), "--db", str(db)])
    detect_s, detect_rss = child([*dg, "detect", "--db", str(db), "--out", str(sim / "detections")])
    print(f"ingest  {ingest_s:7.1f} s  {requests / ingest_s:10,.0f} req/s  peak RSS {ingest_rss:,.0f} MB")
    print(f"detect  {detect_s:7.1f} s  {requests / detect_s:10,.0f} req/s  peak RSS {detect_rss:,.0f} MB")
    print(
        f"total   {ingest_s + detect_s:7.1f} s  (target <= 180 s at scale 0.1)  peak RSS "
        f"{max(ingest_rss, detect_rss):,.0f} MB (target <= 6,144 MB)"
    )

    quality = evaluate(sim / "truth.jsonl", sim / "detections").to_json()
    print(
        "quality: "
        + ", ".join(
            f"{k} {quality[k]:.4f}" if isinstance(quality[k], float) else f"{k} {quality[k]}"
            for k in ("account_recall", "account_precision", "benign_fpr", "campaign_purity", "campaign_completeness")
        )
        + f", campaigns found {quality['campaigns_found']}/{quality['campaigns_total']}"
        + f" (reported {len(quality['clusters'])})"
    )
    for role in quality["by_role"]:
        print(
            f"  {role['role']}: {role['flagged']:,} of {role['accounts']:,} accounts flagged "
            f"({role['metric']} {role['rate']:.4f})"
        )


def _requests(truth: Path) -> int:
    """Requests simulated: the sum of the truth file's per-account totals (the logs may be compressed)."""
    return sum(orjson.loads(line)["total_requests"] for line in truth.open("rb"))


if __name__ == "__main__":
    main()
