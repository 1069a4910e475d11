"""Rebuild the shipped prompt corpora (``src/distillguard/data/prompts/``) from ``shared/data/prompts``.

Why this exists: the simulator and the detector's training code must run on a fresh clone where ``shared/``
is absent, so the permissively licensed corpora (CC0, MIT, Apache-2.0) are compacted into zstd-compressed
JSON Lines and shipped with a NOTICE naming each source, commit and licence. Corpora under any other licence
(CC BY-NC, or none stated) are never copied; ``distillguard.simulate.corpora`` reads them from ``shared/``
only when that folder is present.

Each shipped row keeps ``id``, ``text`` and the only ``meta`` fields the simulator uses: ``tools`` (BFCL
function definitions) and ``turns`` (follow-up user turns). Output is deterministic: rows keep source order,
JSON keys are sorted, zstd runs single-threaded at a fixed level, so a rebuild from the same inputs gives
identical bytes.

Usage: ``python scripts/build_prompt_data.py [SRC_DIR] [--out OUT_DIR]`` (``SRC_DIR`` defaults to
``../shared/data`` relative to the repository root).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import orjson
import zstandard

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SRC = REPO.parent / "shared" / "data"
DEFAULT_OUT = REPO / "src" / "distillguard" / "data" / "prompts"
SHIPPABLE = frozenset({"CC0", "MIT", "Apache-2.0"})
KEEP_META = ("tools", "turns")
ZSTD_LEVEL = 19


def _rows(path: Path) -> list[dict]:
    """Rows of a corpus file; split on "\\n" only (texts may hold U+2028, which splitlines() would cut)."""
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.split("\n") if line.strip()]


def _compact(row: dict) -> dict:
    meta = {k: row["meta"][k] for k in KEEP_META if k in row.get("meta", {})}
    return {"id": row["id"], "text": row["text"], "meta": meta}


def build(src: Path, out: Path) -> list[dict]:
    """Write one ``<corpus>.jsonl.zst`` per shippable corpus, plus MANIFEST.json and NOTICE; return manifest."""
    manifest = json.loads((src / "MANIFEST.json").read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    shipped = []
    for entry in manifest:
        rel = entry["file"].removeprefix("shared/data/")
        if not rel.startswith("prompts/") or entry["licence"] not in SHIPPABLE:
            continue
        path = src / rel
        group, name = path.parent.name, path.name.removesuffix(".jsonl")
        payload = b"".join(orjson.dumps(_compact(r), option=orjson.OPT_SORT_KEYS) + b"\n" for r in _rows(path))
        blob = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=0).compress(payload)
        (out / f"{name}.jsonl.zst").write_bytes(blob)
        shipped.append(
            {
                "corpus": name,
                "group": group,
                "file": f"{name}.jsonl.zst",
                "rows": payload.count(b"\n"),
                "source": entry["source"],
                "source_paths": entry["paths"],
                "licence": entry["licence"],
                "input_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "sha256": hashlib.sha256(blob).hexdigest(),
            }
        )
    (out / "MANIFEST.json").write_text(json.dumps(shipped, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    (out / "NOTICE").write_text(_notice(shipped), encoding="utf-8")
    return shipped


def _notice(shipped: list[dict]) -> str:
    lines = [
        "Third-party prompt corpora shipped in distillguard/data/prompts/",
        "================================================================",
        "",
        "Each <corpus>.jsonl.zst holds the first user turn of every row of one public corpus (fields id,",
        "text and, where present, meta.tools / meta.turns), rebuilt by scripts/build_prompt_data.py.",
        "Only corpora licensed CC0, MIT or Apache-2.0 are shipped; CC BY-NC and unlicensed corpora are",
        "read from shared/data only when it is present and are never redistributed.",
        "",
    ]
    for s in shipped:
        owner_repo, _, commit = s["source"].partition("@")
        lines += [
            f"* {s['file']} ({s['group']}, {s['rows']} rows)",
            f"  source:  https://github.com/{owner_repo} at commit {commit}",
            f"  paths:   {', '.join(s['source_paths'])}",
            f"  licence: {s['licence']}",
            f"  sha256 of the input copy: {s['input_sha256']}",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", nargs="?", type=Path, default=DEFAULT_SRC)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if not (args.src / "MANIFEST.json").is_file():
        print(f"error: {args.src}/MANIFEST.json not found", file=sys.stderr)
        return 1
    shipped = build(args.src, args.out)
    total = sum((args.out / s["file"]).stat().st_size for s in shipped)
    print(f"wrote {len(shipped)} corpora, {total / 1e6:.2f} MB, to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
