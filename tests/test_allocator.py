"""DuckDB's allocator keeps freed memory for a while (set by `import distillguard`; see its docstring)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import os
import distillguard
# Ask jemalloc to print its options at exit, on top of what distillguard set, before duckdb loads it.
os.environ["DUCKDB_JE_MALLOC_CONF"] += ",stats_print:true"
import duckdb
duckdb.connect().sql("SELECT 1").fetchall()
"""

# DuckDB builds its own jemalloc into its Linux packages only; elsewhere it uses the system allocator.
pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="DuckDB uses jemalloc on Linux only")


def _jemalloc_options(env: dict[str, str]) -> str:
    proc = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout + proc.stderr


def test_importing_distillguard_sets_duckdbs_decay_before_duckdb_loads() -> None:
    env = {k: v for k, v in os.environ.items() if k != "DUCKDB_JE_MALLOC_CONF"}
    options = _jemalloc_options(env)
    assert "opt.dirty_decay_ms: 30000" in options
    assert "opt.muzzy_decay_ms: 30000" in options


def test_a_value_the_user_set_wins() -> None:
    options = _jemalloc_options({**os.environ, "DUCKDB_JE_MALLOC_CONF": "dirty_decay_ms:2000"})
    assert "opt.dirty_decay_ms: 2000" in options
    assert "opt.muzzy_decay_ms: 1000" in options  # DuckDB's own default, untouched
