"""distillguard: find, attribute, share and stop distillation attacks in LLM API traffic."""

import os

# DuckDB's own allocator (a jemalloc) hands freed memory back to the kernel after one second. Ingest frees and
# allocates hundreds of MB per chunk, and that purging (madvise calls, TLB shootdowns on both cores) cost ~9% of
# its CPU (docs/benchmarks.md). Freed memory is kept 30 s instead, so a long-running process still gives it back
# when idle. jemalloc reads this once, when duckdb is first imported, hence here; a value already set wins.
os.environ.setdefault("DUCKDB_JE_MALLOC_CONF", "dirty_decay_ms:30000,muzzy_decay_ms:30000")

__version__ = "0.1.0"
