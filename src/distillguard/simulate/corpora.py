"""Prompt corpora and the one fixed train/test split that every part of distillguard shares.

Why one split: the simulator generates evaluation traffic from the *test* split only, and the detector's
training code may see the *train* split only (``train_prompts``), so a detector is always measured on
prompts it never saw. The split is a pure function of the prompt id (``split_of``), so it never moves when
corpora are added, reordered or shipped in another form.

Split rule: ``sha256("distillguard-split-v1:" + id)``; the first 8 bytes read as a big-endian integer below
0.7 * 2**64 put the prompt in "train", otherwise "test". Before splitting, exact duplicate texts are
removed across all corpora (shipped corpora first, in manifest order, then extras), so no text is in both
splits.

Shipped corpora (CC0 / MIT / Apache-2.0) live in ``distillguard/data/prompts/``. The non-redistributable
corpora (CC BY-NC, unlicensed) are read from ``shared/data`` only when it exists: ``extras=None`` means "use
them if present", ``True`` asks for them (and warns, then skips, when absent), ``False`` never uses them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import orjson
import zstandard

SPLIT_SALT = "distillguard-split-v1"
TRAIN_FRACTION = 0.7
SHIPPABLE_LICENCES = frozenset({"CC0", "MIT", "Apache-2.0"})


def split_of(key: str) -> str:
    """ "train" or "test" for a prompt id (or any stable key), by the documented hash rule."""
    h = int.from_bytes(hashlib.sha256(f"{SPLIT_SALT}:{key}".encode()).digest()[:8], "big")
    return "train" if h < TRAIN_FRACTION * 2**64 else "test"


@dataclass(frozen=True)
class Prompt:
    """The first user turn of one corpus row. ``tools`` holds BFCL function definitions (JSON-schema-like
    dicts) for tool-use rows; ``turns`` the row's later user turns, if any."""

    id: str
    corpus: str
    group: str  # "benign" (what people send) or "distillation" (prompt sets used to harvest a model)
    text: str
    licence: str
    tools: list[dict[str, Any]] | None = field(default=None, compare=False)
    turns: tuple[str, ...] = ()

    @property
    def split(self) -> str:
        return split_of(self.id)


def shared_data_dir() -> Path | None:
    """``$DISTILLGUARD_SHARED_DATA``, else ``../shared/data`` beside the repository, if it exists."""
    env = os.environ.get("DISTILLGUARD_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[4] / "shared" / "data")
    return next((c for c in candidates if (c / "MANIFEST.json").is_file()), None)


def _prompt(row: dict[str, Any], corpus: str, group: str, licence: str) -> Prompt:
    meta = row.get("meta") or {}
    turns = tuple(str(t) for t in (meta.get("turns") or [])[1:])
    return Prompt(row["id"], corpus, group, row["text"], licence, meta.get("tools"), turns)


@functools.cache
def _shipped() -> tuple[Prompt, ...]:
    base = resources.files("distillguard") / "data" / "prompts"
    manifest = json.loads((base / "MANIFEST.json").read_text(encoding="utf-8"))
    out: list[Prompt] = []
    for entry in manifest:
        raw = zstandard.ZstdDecompressor().decompressobj().decompress((base / entry["file"]).read_bytes())
        for line in raw.split(b"\n"):
            if line:
                out.append(_prompt(orjson.loads(line), entry["corpus"], entry["group"], entry["licence"]))
    return tuple(out)


@functools.cache
def _extras(root: Path) -> tuple[Prompt, ...]:
    out: list[Prompt] = []
    for entry in json.loads((root / "MANIFEST.json").read_text(encoding="utf-8")):
        rel = entry["file"].removeprefix("shared/data/")
        if not rel.startswith("prompts/") or entry["licence"] in SHIPPABLE_LICENCES:
            continue
        path = root / rel
        text = path.read_text(encoding="utf-8")
        for line in text.split("\n"):  # not splitlines(): texts may contain U+2028
            if line.strip():
                out.append(_prompt(json.loads(line), path.stem, path.parent.name, entry["licence"]))
    return tuple(out)


def load_prompts(extras: bool | None = None) -> list[Prompt]:
    """Every prompt of every available corpus, exact duplicate texts removed (first occurrence kept)."""
    rows = list(_shipped())
    if extras is not False:
        root = shared_data_dir()
        if root is not None:
            rows += _extras(root)
        elif extras:
            warnings.warn("shared/data not found: non-redistributable corpora skipped", stacklevel=2)
    seen: set[str] = set()
    unique = []
    for p in rows:
        key = p.text.strip()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def prompts(split: str, extras: bool | None = None) -> list[Prompt]:
    """The prompts of one split ("train" or "test")."""
    if split not in ("train", "test"):
        raise ValueError("split must be 'train' or 'test'")
    return [p for p in load_prompts(extras) if p.split == split]


def train_prompts(extras: bool | None = None) -> list[Prompt]:
    """The train split: the only prompts the detector's training code may read."""
    return prompts("train", extras)
