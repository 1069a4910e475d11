"""Simulator throughput and memory: requests per second and peak RSS for one scenario.

    python benchmarks/simulate.py [--scale 0.1] [--scenario standard] [--format jsonl] [--out DIR]

Runs ``distillguard.simulate.simulate`` in a fresh subprocess (so peak RSS is the simulation's own, read
from ``getrusage`` of that child), prints requests, seconds, requests/s, bytes written and peak RSS, with a
one-line description of the machine. Without ``--out`` the output goes to a temporary directory that is
removed afterwards. Target: at least 200,000 requests/s at ``--scale 0.1`` (3.2M requests).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = """
import json, sys, resource
from pathlib import Path
from distillguard.simulate import simulate
s = simulate(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4]), sys.argv[5])
size = sum(f.stat().st_size for f in Path(sys.argv[4]).iterdir())
print(json.dumps({"requests": s.requests, "accounts": s.accounts, "seconds": s.seconds,
                  "requests_per_second": s.requests_per_second, "bytes": size,
                  "peak_day_requests": s.peak_day_requests}))
"""


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import duckdb
    import numpy
    import pyarrow

    return (
        f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, Python {platform.python_version()}, "
        f"duckdb {duckdb.__version__}, pyarrow {pyarrow.__version__}, numpy {numpy.__version__}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--scenario", default="standard")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", default="jsonl", choices=("jsonl", "jsonl.zst", "parquet"))
    ap.add_argument("--out", type=Path, help="keep the output here (default: a temporary directory)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="dg-sim-") as tmp:
        out = args.out or Path(tmp) / "out"
        env = dict(
            os.environ,
            PYTHONPATH=os.pathsep.join(
                [str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH", "")]
            ),
        )
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, args.scenario, str(args.scale), str(args.seed), str(out), args.format],
            capture_output=True,
            text=True,
            env=env,
        )
        if proc.returncode:
            sys.exit(f"simulation failed:\n{proc.stderr}")
        child = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"machine: {machine()}")
    print(f"scenario {args.scenario}, scale {args.scale}, seed {args.seed}, format {args.format}")
    print(f"requests: {r['requests']:,} ({r['accounts']:,} accounts), busiest day {r['peak_day_requests']:,}")
    print(f"seconds: {r['seconds']:.1f}  (cpu: {child.ru_utime + child.ru_stime:.1f} s)")
    print(f"requests/s: {r['requests_per_second']:,.0f}")
    print(f"written: {r['bytes'] / 1e9:.2f} GB ({r['bytes'] / max(r['requests'], 1):,.0f} bytes/request)")
    print(f"peak RSS: {child.ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
