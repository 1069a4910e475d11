"""Run a command in a fresh child process and report its wall time and the child's own peak RSS."""

from __future__ import annotations

import subprocess
import sys

WRAPPER = """
import resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(time.perf_counter() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""


def child(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of `cmd`, run through a wrapper so the RSS is the command's alone."""
    out = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], check=True, capture_output=True, text=True)
    seconds, rss = out.stdout.split()
    return float(seconds), float(rss)
