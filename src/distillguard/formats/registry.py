"""Which formats exist, and which one a file is in.

`--format auto` sniffs: Parquet by its magic bytes; otherwise the first JSON record of the file is offered to
each adapter in turn, and a record with the native required keys is native. A file whose first record is
unreadable is treated as native, so its lines are quarantined with a reason instead of silently skipped.
"""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

import orjson

from distillguard.formats.base import RecordAdapter
from distillguard.formats.io import head_bytes, is_parquet

# `openai` and `anthropic` are the native envelope with the request body dialect pinned rather than inferred.
NATIVE_FORMATS = ("native", "openai", "anthropic")
ADAPTER_CLASSES = {
    "otel": "distillguard.formats.otel:OTelGenAIAdapter",
    "litellm": "distillguard.formats.litellm:LiteLLMSpendLogAdapter",
    "glasswally": "distillguard.formats.glasswally:GlasswallyAdapter",
}
FORMAT_NAMES = ("auto", *NATIVE_FORMATS, *ADAPTER_CLASSES)
NATIVE_KEYS = {"request_id", "account_id", "request"}


@cache
def adapter(name: str) -> RecordAdapter:
    module, cls = ADAPTER_CLASSES[name].split(":")
    return getattr(importlib.import_module(module), cls)()


def first_record(path: Path, limit: int = 4 << 20) -> object | None:
    """The first parseable JSON value of a JSON Lines file (or of a whole small JSON document)."""
    head = head_bytes(path, limit)
    for line in head.split(b"\n"):
        if line.strip():
            try:
                return orjson.loads(line)
            except orjson.JSONDecodeError:
                break
    try:
        return orjson.loads(head)
    except orjson.JSONDecodeError:
        return None


def detect_format(path: Path) -> str:
    """The concrete format name of `path` (never 'auto')."""
    if is_parquet(path):
        return "native"
    record = first_record(path)
    if isinstance(record, list) and record:
        record = record[0]
    if isinstance(record, dict) and record.keys() >= NATIVE_KEYS:
        return "native"
    for name in ADAPTER_CLASSES:
        try:
            if adapter(name).sniff(record):
                return name
        except ImportError:
            continue
    return "native"
