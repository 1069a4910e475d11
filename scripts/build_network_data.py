"""Rebuild the network and user-agent package data from the raw lists in ``shared/data/network``.

Why this exists: the product must classify addresses on a fresh clone where ``shared/`` is absent, so the
permissively licensed lists (CC0 / MIT) are compacted into ``src/distillguard/data/network/`` and shipped.
Overlapping CIDRs from several lists are resolved once, here, into one sorted table of disjoint IPv4
intervals, so the runtime lookup is a single ``numpy.searchsorted``.

Priority when lists overlap (highest first): private/reserved > tor > vpn > cloud > datacenter. Private wins
because a reserved address can never be a real public exit; among clouds the order of ``PROVIDERS`` decides.

The output is deterministic (uncompressed zip with fixed timestamps, sorted arrays, stable JSON), so
rebuilding from the same inputs yields identical bytes; ``tests/enrich/test_network.py`` checks that.

Usage: ``python scripts/build_network_data.py [SRC_DIR] [--out OUT_DIR]``
(``SRC_DIR`` defaults to ``../shared/data/network`` relative to the repository root).
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SRC = REPO.parent / "shared" / "data" / "network"
DEFAULT_OUT = REPO / "src" / "distillguard" / "data" / "network"

# Class names in priority order (index 0 wins). The runtime reads this order from the data file.
CLASSES = ("private", "tor", "vpn", "cloud", "datacenter")
# Cloud providers in priority order for the (rare) case where two providers' published ranges overlap.
PROVIDERS = ("amazon", "google", "microsoft", "oracle", "digitalocean", "linode", "vultr")

# IPv4 ranges that are not globally reachable unicast: the IANA IPv4 Special-Purpose Address Registry
# entries with "Globally Reachable = False", plus multicast and the all-ones broadcast. Hand-written (not
# taken from the stdlib ``ipaddress`` tables) so the shipped bytes do not depend on the Python patch version.
IPV4_SPECIAL = (
    "0.0.0.0/8",  # "this network" (RFC 791)
    "10.0.0.0/8",  # private (RFC 1918)
    "100.64.0.0/10",  # carrier-grade NAT shared space (RFC 6598)
    "127.0.0.0/8",  # loopback
    "169.254.0.0/16",  # link-local
    "172.16.0.0/12",  # private (RFC 1918)
    "192.0.0.0/29",  # IETF protocol assignments (192.0.0.9/.10 are global anycast, so not the whole /24)
    "192.0.0.170/31",  # NAT64 discovery (RFC 7050)
    "192.0.2.0/24",  # TEST-NET-1 documentation
    "192.168.0.0/16",  # private (RFC 1918)
    "198.18.0.0/15",  # benchmarking (RFC 2544)
    "198.51.100.0/24",  # TEST-NET-2 documentation
    "203.0.113.0/24",  # TEST-NET-3 documentation
    "224.0.0.0/4",  # multicast
    "240.0.0.0/4",  # reserved, includes 255.255.255.255 limited broadcast
)

# What was done to each shipped source file; used to write NOTICE together with MANIFEST.json.
_TREATMENT = {
    "cloud_ipv4": "CIDRs parsed, merged per provider and folded into ip_ranges.npz (class 'cloud').",
    "vpn_ipv4.txt": "CIDRs parsed, merged and folded into ip_ranges.npz (class 'vpn').",
    "datacenter_ipv4.txt": "CIDRs parsed, merged and folded into ip_ranges.npz (class 'datacenter').",
    "tor_exit_nodes.txt": "IPv4 exits folded into ip_ranges.npz (class 'tor'); IPv6 exits stored as "
    "16-byte addresses in ip_ranges.npz (array 'tor6').",
    "crawler_user_agents.json": "Reduced to pattern + example instances (url, description and tags "
    "dropped), re-serialised as crawler_user_agents.json.",
    "top_user_agents.json": "Re-serialised unchanged in content as top_user_agents.json.",
}


def _read_lines(path: Path) -> list[str]:
    """Non-empty, non-comment lines; the lists are plain text with one entry per line."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


def _cidrs_to_intervals(cidrs: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """IPv4 CIDRs (or bare addresses) to inclusive integer intervals; IPv6 entries are skipped."""
    lo, hi = [], []
    for text in cidrs:
        net = ipaddress.ip_network(text, strict=False)
        if net.version == 4:
            lo.append(int(net.network_address))
            hi.append(int(net.broadcast_address))
    return np.array(lo, dtype=np.int64), np.array(hi, dtype=np.int64)


def merge_intervals(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge overlapping or adjacent inclusive intervals into sorted disjoint ones (vectorised)."""
    if len(lo) == 0:
        return lo.astype(np.int64), hi.astype(np.int64)
    order = np.lexsort((hi, lo))
    lo, hi = lo[order].astype(np.int64), hi[order].astype(np.int64)
    reach = np.maximum.accumulate(hi)
    starts = np.ones(len(lo), dtype=bool)
    starts[1:] = lo[1:] > reach[:-1] + 1
    group = np.cumsum(starts) - 1
    out_lo = lo[starts]
    out_hi = np.zeros(len(out_lo), dtype=np.int64)
    np.maximum.at(out_hi, group, hi)
    return out_lo, out_hi


def paint(layers: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Resolve overlapping layers (index 0 = highest priority) into disjoint labelled intervals.

    Every layer boundary becomes a segment boundary, each elementary segment takes the label of the first
    layer covering it, and adjacent segments with the same label are merged again.
    """
    merged = [merge_intervals(lo, hi) for lo, hi in layers]
    bounds = np.unique(np.concatenate([np.concatenate([lo, hi + 1]) for lo, hi in merged]))
    seg_lo, seg_hi = bounds[:-1], bounds[1:] - 1
    label = np.full(len(seg_lo), -1, dtype=np.int64)
    for k in range(len(merged) - 1, -1, -1):  # lowest priority first, so higher layers overwrite
        lo, hi = merged[k]
        if len(lo) == 0:
            continue
        idx = np.searchsorted(lo, seg_lo, side="right") - 1
        covered = (idx >= 0) & (seg_lo <= hi[np.maximum(idx, 0)])
        label[covered] = k
    keep = label >= 0
    seg_lo, seg_hi, label = seg_lo[keep], seg_hi[keep], label[keep]
    new = np.ones(len(seg_lo), dtype=bool)
    new[1:] = (label[1:] != label[:-1]) | (seg_lo[1:] != seg_hi[:-1] + 1)
    group = np.cumsum(new) - 1
    out_hi = np.zeros(int(new.sum()), dtype=np.int64)
    np.maximum.at(out_hi, group, seg_hi)
    return seg_lo[new], out_hi, label[new]


def build_ranges(src: Path) -> dict[str, np.ndarray]:
    """All arrays stored in ip_ranges.npz."""
    tor_lines = _read_lines(src / "tor_exit_nodes.txt")
    layers: list[tuple[np.ndarray, np.ndarray]] = []
    meta: list[tuple[int, int]] = []  # (class index, provider index or -1) per layer
    layers.append(_cidrs_to_intervals(list(IPV4_SPECIAL)))
    meta.append((0, -1))
    layers.append(_cidrs_to_intervals(tor_lines))
    meta.append((1, -1))
    layers.append(_cidrs_to_intervals(_read_lines(src / "vpn_ipv4.txt")))
    meta.append((2, -1))
    for p, name in enumerate(PROVIDERS):
        layers.append(_cidrs_to_intervals(_read_lines(src / "cloud_ipv4" / f"{name}.txt")))
        meta.append((3, p))
    layers.append(_cidrs_to_intervals(_read_lines(src / "datacenter_ipv4.txt")))
    meta.append((4, -1))
    lo, hi, layer = paint(layers)
    meta_arr = np.array(meta, dtype=np.int64)
    tor6 = sorted(ipaddress.IPv6Address(t).packed for t in tor_lines if ipaddress.ip_address(t).version == 6)
    return {
        "lo": lo.astype(np.uint32),
        "hi": hi.astype(np.uint32),
        "cls": meta_arr[layer, 0].astype(np.uint8),
        "provider": meta_arr[layer, 1].astype(np.int8),
        "classes": np.array(CLASSES, dtype="<U16"),
        "providers": np.array(PROVIDERS, dtype="<U16"),
        "tor6": np.frombuffer(b"".join(tor6), dtype=np.uint8).reshape(-1, 16),
    }


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``numpy.savez`` but byte-for-byte reproducible: stored entries, fixed timestamps, sorted names."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, buf.getvalue())


def build_crawlers(src: Path) -> list[dict]:
    """Keep pattern and instances only; drop any pattern RE2 (pyarrow) cannot compile."""
    raw = json.loads((src / "crawler_user_agents.json").read_text(encoding="utf-8"))
    out = []
    for entry in raw:
        try:
            pc.match_substring_regex(pa.array(["x"]), entry["pattern"])
        except pa.ArrowInvalid:
            print(f"skipping pattern RE2 rejects: {entry['pattern']!r}", file=sys.stderr)
            continue
        out.append({"pattern": entry["pattern"], "instances": list(entry.get("instances", []))})
    return out


def build_notice(src: Path) -> str:
    """NOTICE text naming each shipped source, its commit and licence, and what was done to it."""
    manifest_path = src.parent / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    lines = [
        "Third-party data shipped in distillguard/data/network/",
        "=" * 56,
        "",
        "Files here: ip_ranges.npz (IPv4 intervals + Tor IPv6 exits), crawler_user_agents.json,",
        "top_user_agents.json. They are derived from the sources below by scripts/build_network_data.py.",
        "The hand-written IPv4 special-purpose ranges (class 'private') follow the IANA IPv4",
        "Special-Purpose Address Registry. datacenter_asn.txt is not shipped.",
        "",
    ]
    for entry in manifest:
        rel = entry["file"].split("data/network/", 1)
        if len(rel) != 2:
            continue
        name = rel[1]
        key = "cloud_ipv4" if name.startswith("cloud_ipv4/") else name
        if key not in _TREATMENT:
            continue
        lines += [
            f"* {name}",
            f"  source:  https://github.com/{entry['source'].split('@')[0]} at commit {entry['source'].split('@')[1]}",
            f"  path:    {', '.join(entry['paths'])}",
            f"  licence: {entry['licence']}",
            f"  sha256 of the input copy: {entry['sha256']}",
            f"  changes: {_TREATMENT[key]}",
            "",
        ]
    lines += [
        "CC0 sources are in the public domain. MIT-licensed sources: the MIT licence permits use, copying,",
        "modification and redistribution provided the copyright and permission notice of the source",
        "repository (see its LICENSE file at the commit above) is retained; this NOTICE refers to it.",
        "",
    ]
    return "\n".join(lines)


def build(src: Path, out: Path) -> list[Path]:
    """Write every package-data file into ``out``; returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    path = out / "ip_ranges.npz"
    write_npz(path, build_ranges(src))
    written.append(path)
    path = out / "crawler_user_agents.json"
    path.write_text(json.dumps(build_crawlers(src), ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    written.append(path)
    top = json.loads((src / "top_user_agents.json").read_text(encoding="utf-8"))
    path = out / "top_user_agents.json"
    path.write_text(json.dumps(top, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")
    written.append(path)
    path = out / "NOTICE"
    path.write_text(build_notice(src), encoding="utf-8")
    written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("src", nargs="?", type=Path, default=DEFAULT_SRC, help="shared/data/network folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="package data folder to write")
    args = parser.parse_args(argv)
    if not args.src.is_dir():
        parser.error(f"source folder not found: {args.src}")
    for path in build(args.src, args.out):
        print(f"{path}  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
