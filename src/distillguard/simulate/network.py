"""Where simulated requests come from: IPv4 address classes and client fingerprints (user agent + TLS).

Addresses. Tor, VPN, cloud and datacenter addresses are sampled from the same intervals the ingest
classifier uses (``distillguard.enrich.network.NetworkClassifier.default().ranges``), so a detector sees them
classified exactly as real ones would be. Residential, mobile, corporate and campus space has no public list;
it is *synthesised* from non-listed space: every /16 in 1.0.0.0-223.255.255.255 that overlaps no listed or
reserved range is eligible, and a fixed shuffle (seed 20260201, independent of the scenario seed) assigns
1,024 /16s to residential ISPs, 48 to mobile carriers, 256 to corporate networks and 64 to campuses. These
all classify as "other", like real eyeball networks.

Clients. Browser user agents are the shipped list of common real browsers; SDK, CLI and gateway user agents
are generated from real client names and plausible versions. TLS fingerprints are JA4-formatted strings, one
small set per client stack (Chromium, Firefox, Safari, Python, Node, Go, curl, Java): synthetic values that
keep the real structure (clients on the same stack share them, as in real traffic).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

import numpy as np

from distillguard.enrich.network import NetworkClassifier
from distillguard.simulate.rand import hash_keys
from distillguard.simulate.tools import ANTHROPIC, OPENAI

_SPACE_SEED = 20260201
_SYNTH_BLOCKS = {"residential": 1024, "mobile": 48, "corporate": 256, "campus": 64}


class AddressSpace:
    """Disjoint IPv4 intervals; maps hash values to addresses in them (uint32).

    ``by_size`` picks an address uniformly over all addresses; otherwise an interval is picked uniformly
    first (so small hosting ranges are as likely as a /12, as with real proxy fleets spread over providers).
    """

    def __init__(self, lo: np.ndarray, hi: np.ndarray) -> None:
        self.lo = np.asarray(lo, dtype=np.int64)
        self.size = np.asarray(hi, dtype=np.int64) - self.lo + 1
        self.cum = np.cumsum(self.size)
        self.total = int(self.cum[-1])

    def at(self, h: np.ndarray, by_size: bool = True) -> np.ndarray:
        h = np.asarray(h, dtype=np.uint64)
        if by_size:
            idx = (h % np.uint64(self.total)).astype(np.int64)
            iv = np.searchsorted(self.cum, idx, side="right")
            off = idx - (self.cum[iv] - self.size[iv])
        else:
            iv = (h % np.uint64(len(self.lo))).astype(np.int64)
            off = ((h >> np.uint64(20)) % self.size[iv].astype(np.uint64)).astype(np.int64)
        return (self.lo[iv] + off).astype(np.uint32)

    def pick(self, interval_h: np.ndarray, offset_h: np.ndarray) -> np.ndarray:
        """An address in the interval chosen by one hash, at the offset chosen by another (clustering)."""
        iv = (np.asarray(interval_h, dtype=np.uint64) % np.uint64(len(self.lo))).astype(np.int64)
        off = (np.asarray(offset_h, dtype=np.uint64) % self.size[iv].astype(np.uint64)).astype(np.int64)
        return (self.lo[iv] + off).astype(np.uint32)

    def nth(self, k: np.ndarray, stride: int) -> np.ndarray:
        """A bijection of 0..total-1 onto the space: distinct ``k`` give distinct addresses."""
        idx = (np.asarray(k, dtype=np.int64) * stride) % self.total
        iv = np.searchsorted(self.cum, idx, side="right")
        return (self.lo[iv] + idx - (self.cum[iv] - self.size[iv])).astype(np.uint32)


@functools.cache
def address_spaces() -> dict[str, AddressSpace]:
    """All address classes: tor, vpn, datacenter, cloud, cloud:<provider>, residential, mobile, corporate,
    campus."""
    clf = NetworkClassifier.default()
    spaces: dict[str, AddressSpace] = {}
    listed_lo, listed_hi = [], []
    for cls in ("tor", "vpn", "cloud", "datacenter", "private"):
        lo, hi, providers = clf.ranges(cls)
        listed_lo.append(lo)
        listed_hi.append(hi)
        if cls != "private":
            spaces[cls] = AddressSpace(lo, hi)
        if cls == "cloud":
            names = np.array([p or "" for p in providers])
            for p in sorted(set(names) - {""}):
                spaces[f"cloud:{p}"] = AddressSpace(lo[names == p], hi[names == p])
    lo = np.concatenate(listed_lo)
    hi = np.concatenate(listed_hi)
    blocks = np.arange(1 << 8, 224 << 8, dtype=np.int64) << 16  # candidate /16 starts
    order = np.argsort(lo)
    lo, hi = lo[order], np.maximum.accumulate(hi[order])
    # a /16 is free when no listed interval starts inside it and none starting before it reaches into it
    first_in = np.searchsorted(lo, blocks, side="left")
    ends_before = np.where(first_in > 0, hi[np.maximum(first_in - 1, 0)], -1)
    starts_inside = (first_in < len(lo)) & (lo[np.minimum(first_in, len(lo) - 1)] <= blocks + 0xFFFF)
    free = blocks[(ends_before < blocks) & ~starts_inside]
    free = np.random.default_rng(_SPACE_SEED).permutation(free)
    at = 0
    for name, n in _SYNTH_BLOCKS.items():
        chosen = np.sort(free[at : at + n])
        at += n
        spaces[name] = AddressSpace(chosen, chosen + 0xFFFF)
    return spaces


def sample(space: str, *keys: np.ndarray | int, by_size: bool = True) -> np.ndarray:
    """Addresses of a class as a stable function of integer keys."""
    return address_spaces()[space].at(hash_keys(*keys), by_size=by_size)


# --------------------------------------------------------------------------------------------- clients

_TLS = {
    "chromium": ("t13d1516h2_8daaf6152771_02713d6af862", "t13d1517h2_8daaf6152771_b1ff8ab2d16f"),
    "firefox": ("t13d1715h2_5b57614c22b0_3d5424432f57", "t13d1716h2_5b57614c22b0_eeeea6562960"),
    "safari": ("t13d2014h2_a09f3c656075_14788d8d241b",),
    "python": ("t13d1812h1_85036bcba153_375ca2c5e164", "t13d1811h1_85036bcba153_d41ae481755e"),
    "node": ("t13d1212h2_b0f5ab0c5a8e_32aeb4a0c9d2", "t13d1213h2_b0f5ab0c5a8e_7c4ab1ee5a29"),
    "go": ("t13d1312h2_f57a46bbacb6_e7c285222651",),
    "curl": ("t13d3112h2_e8f1e7e78f70_6bebaf5329ac", "t13d3113h2_e8f1e7e78f70_0f2cb3b5c3a7"),
    "java": ("t13d1714h2_5b57614c22b0_09fe4b8b3e9a",),
}


def _versions(majors: range, patches: range) -> list[tuple[int, int]]:
    return [(m, p) for m in majors for p in patches]


# (user-agent pattern, (minor, patch) versions oldest first, TLS stack, request styles, kind, share of kind)
_SDKS = (
    ("anthropic-python/0.{m}.{p}", _versions(range(30, 56), range(3)), "python", (ANTHROPIC,), "sdk", 0.35),
    ("anthropic-typescript/0.{m}.{p}", _versions(range(20, 41), range(2)), "node", (ANTHROPIC,), "sdk", 0.1),
    ("openai-python/1.{m}.{p}", _versions(range(30, 61), range(4)), "python", (OPENAI,), "sdk", 0.25),
    ("openai-node/4.{m}.{p}", _versions(range(50, 81), range(2)), "node", (OPENAI,), "sdk", 0.12),
    ("curl/8.{m}.{p}", _versions(range(12), range(2)), "curl", (ANTHROPIC, OPENAI), "cli", 1.0),
    ("python-requests/2.{m}.{p}", _versions(range(28, 33), range(3)), "python", (ANTHROPIC, OPENAI), "sdk", 0.1),
    ("axios/1.{m}.{p}", _versions(range(5, 8), range(8)), "node", (ANTHROPIC, OPENAI), "sdk", 0.05),
    ("litellm/1.{m}.{p}", _versions(range(40, 61), range(2)), "python", (ANTHROPIC, OPENAI), "gateway", 0.6),
    ("okhttp/4.{m}.{p}", _versions(range(9, 13), range(1)), "java", (OPENAI,), "sdk", 0.03),
    ("Go-http-client/{m}.{p}", [(1, 1), (2, 0)], "go", (ANTHROPIC, OPENAI), "gateway", 0.4),
)


@dataclass(frozen=True)
class Clients:
    """The client table: one row per (user agent, TLS fingerprint, request style)."""

    ua: list[str]
    tls: list[str]
    style: np.ndarray  # ANTHROPIC or OPENAI
    kind: list[str]  # browser | sdk | cli | gateway
    weight: np.ndarray  # popularity among ordinary users (sums to 1 within a kind)

    def of_kind(self, kind: str) -> np.ndarray:
        return np.flatnonzero(np.array(self.kind) == kind)

    def named(self, prefix: str, style: int | None = None) -> np.ndarray:
        """Rows whose user agent starts with `prefix` (oldest version first), optionally of one style."""
        rows = [i for i, u in enumerate(self.ua) if u.startswith(prefix)]
        return np.array([i for i in rows if style is None or self.style[i] == style], dtype=np.int64)


def _browser_stack(ua: str) -> str:
    if "Firefox/" in ua:
        return "firefox"
    if "Safari/" in ua and "Chrome/" not in ua and "Chromium/" not in ua:
        return "safari"
    return "chromium"


@functools.cache
def clients() -> Clients:
    """Browser rows from the shipped top-user-agents list, then SDK/CLI/gateway rows (newest most popular)."""
    ref = resources.files("distillguard") / "data" / "network" / "top_user_agents.json"
    browsers = json.loads(ref.read_text(encoding="utf-8"))
    ua, tls, style, kind, weight = [], [], [], [], []
    for rank, b in enumerate(browsers):
        stack = _TLS[_browser_stack(b)]
        for s in (ANTHROPIC, OPENAI):
            ua.append(b)
            tls.append(stack[rank % len(stack)])
            style.append(s)
            kind.append("browser")
            weight.append(1.0 / (rank + 5))
    for pattern, versions, stack, styles, k, share in _SDKS:
        recency = (1.0 + np.arange(len(versions)) / 8) ** 1.5  # recent versions are more common
        recency *= share / recency.sum() / len(styles)
        for (m, p), w in zip(versions, recency.tolist(), strict=True):
            for s in styles:
                ua.append(pattern.format(m=m, p=p))
                tls.append(_TLS[stack][(m + p) % len(_TLS[stack])])
                style.append(s)
                kind.append(k)
                weight.append(w)
    w = np.array(weight)
    kinds = np.array(kind)
    for k in set(kind):
        w[kinds == k] /= w[kinds == k].sum()
    return Clients(ua, tls, np.array(style, dtype=np.int8), kind, w)
