"""Classify client IP addresses: Tor exit, VPN, cloud provider, datacenter/hosting, private, other, invalid.

Why: distillation campaigns run thousands of accounts through proxy networks, so where a request comes from
(a Tor exit, a commercial VPN, a cloud VM, a hosting range) and which subnet it shares with other accounts are
linkage signals. The lists ship as package data (``data/network/ip_ranges.npz``, built by
``scripts/build_network_data.py``) as one sorted table of disjoint IPv4 intervals, so lookup is one
``numpy.searchsorted`` over the whole column instead of a loop over CIDRs.

Parsing: dotted-quad IPv4 (the bulk of traffic) is recognised and converted with vectorised pyarrow string
kernels; everything else goes through ``ipaddress.ip_address`` once per value (callers pass distinct IPs).
A value is valid only if it parses with ``ipaddress.ip_address`` after stripping surrounding whitespace, so
``host:port``, ``[v6]`` and CIDR notation are "invalid". IPv4-mapped IPv6 (``::ffff:1.2.3.4``) is reported
as the IPv4 address (version 4, its /24), so it links with the plain IPv4 form.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

IP_CLASSES = ("tor", "vpn", "cloud", "datacenter", "private", "other", "invalid")

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
# Exactly what ipaddress.IPv4Address accepts: four decimal octets, no leading zeros, ASCII digits only.
_IPV4_RE = rf"^{_OCTET}(?:\.{_OCTET}){{3}}$"
_IPV4_MAX = 2**32 - 1


def as_string_array(values: Any) -> pa.StringArray:
    """Coerce a pyarrow (Chunked)Array or a Python sequence to one ``pa.string()`` array.

    Non-string items of a Python sequence become ``str(item)`` and strings that are not valid UTF-8
    (lone surrogates) are replaced, so enrichment never fails on odd input; ``None`` stays null.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.string())
    if isinstance(values, pa.Array):
        if pa.types.is_dictionary(values.type):
            values = values.dictionary_decode()
        return values if values.type == pa.string() else values.cast(pa.string())
    if isinstance(values, str | bytes):
        raise TypeError("expected a sequence of strings, got a single string")
    if not isinstance(values, Sequence | np.ndarray):
        values = list(values)
    try:
        return pa.array(values, type=pa.string())
    except (pa.ArrowException, TypeError, UnicodeError):
        cleaned = [
            None if v is None else (v if isinstance(v, str) else str(v)).encode("utf-8", "replace").decode()
            for v in values
        ]
        return pa.array(cleaned, type=pa.string())


# IPv6 space that is not globally reachable unicast. Outside 2000::/3 everything is reserved, unique-local,
# link/site-local or multicast; inside it, the IETF protocol block (incl. Teredo) and the documentation
# prefixes. Hand-written (like the IPv4 table) so results do not move with the Python patch version; all
# entries are /64 or shorter, so the top 64 bits of an address decide. 6to4 (2002::/16) counts as public.
_IPV6_NOT_GLOBAL = ("::/3", "4000::/2", "8000::/1", "2001::/23", "2001:db8::/32", "3fff::/20")


def _top64_table(cidrs: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    nets = sorted(ipaddress.IPv6Network(c) for c in cidrs)
    if any(n.prefixlen > 64 for n in nets):
        raise ValueError("IPv6 table entries must be /64 or shorter")
    lo = np.array([int(n.network_address) >> 64 for n in nets], dtype=np.uint64)
    hi = np.array([int(n.broadcast_address) >> 64 for n in nets], dtype=np.uint64)
    return lo, hi


_V6_PRIVATE_LO, _V6_PRIVATE_HI = _top64_table(_IPV6_NOT_GLOBAL)


def _in_intervals(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Over sorted disjoint inclusive intervals: (index of the candidate interval, whether it holds x).

    The index is clamped to 0 where no interval starts at or below x, so only use it where ``hit``.
    """
    idx = np.searchsorted(lo, x, side="right") - 1
    safe = np.maximum(idx, 0)
    return safe, (idx >= 0) & (x <= hi[safe])


@dataclass(frozen=True)
class ParsedAddresses:
    """Addresses of one string column. ``version`` is 4, 6 or 0 (null or invalid) per row; ``addr4`` holds the
    IPv4 value (IPv4-mapped IPv6 included) where ``version`` is 4; IPv6 rows are listed with their integers."""

    version: np.ndarray
    addr4: np.ndarray
    v6_rows: list[int]
    v6_ints: list[int]
    invalid: np.ndarray  # rows with text that is not an address


def parse_addresses(ips: Any) -> ParsedAddresses:
    """Parse a column of addresses: dotted-quad IPv4 with vectorised string kernels, the rest one by one with
    ``ipaddress`` (callers pass distinct values). Surrounding whitespace is ignored."""
    raw = as_string_array(ips)
    n = len(raw)
    text = pc.utf8_trim_whitespace(raw)
    present = np.asarray(raw.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    fast = np.asarray(
        pc.match_substring_regex(text, _IPV4_RE).fill_null(False).to_numpy(zero_copy_only=False), dtype=bool
    )
    version = np.zeros(n, dtype=np.int8)
    addr4 = np.zeros(n, dtype=np.int64)
    invalid = np.zeros(n, dtype=bool)
    if fast.any():
        octets = pc.cast(pc.list_flatten(pc.split_pattern(text.filter(pa.array(fast)), ".")), pa.int64())
        o = octets.to_numpy().reshape(-1, 4)
        addr4[fast] = (o[:, 0] << 24) | (o[:, 1] << 16) | (o[:, 2] << 8) | o[:, 3]
        version[fast] = 4
    slow = np.flatnonzero(present & ~fast)
    v6_rows, v6_ints = [], []
    for i, s in zip(slow.tolist(), text.take(pa.array(slow, pa.int64())).to_pylist(), strict=True):
        try:
            addr = ipaddress.ip_address(s)
        except ValueError:
            invalid[i] = True
            continue
        mapped = addr.ipv4_mapped if addr.version == 6 else addr
        if mapped is not None:
            version[i], addr4[i] = 4, int(mapped)
        else:
            version[i] = 6
            v6_rows.append(i)
            v6_ints.append(int(addr))
    return ParsedAddresses(version, addr4, v6_rows, v6_ints, invalid)


class NetworkClassifier:
    """Vectorised IP classifier over a table of disjoint, labelled IPv4 intervals plus Tor IPv6 exits.

    ``lo``/``hi`` are sorted inclusive interval bounds, ``cls`` indexes ``classes`` (which must contain
    "private"), ``provider`` indexes ``providers`` (-1 for none), ``tor6`` is an (n, 16) uint8 array of
    packed IPv6 Tor exits. Use :meth:`default` for the shipped data.
    """

    def __init__(
        self,
        lo: np.ndarray,
        hi: np.ndarray,
        cls: np.ndarray,
        provider: np.ndarray,
        classes: Sequence[str],
        providers: Sequence[str],
        tor6: np.ndarray | None = None,
    ) -> None:
        self._lo = np.asarray(lo, dtype=np.int64)
        self._hi = np.asarray(hi, dtype=np.int64)
        if not len(self._lo) or np.any(self._lo > self._hi) or np.any(self._lo[1:] <= self._hi[:-1]):
            raise ValueError("need at least one interval; intervals must be sorted and disjoint")
        self._names = [str(c) for c in classes] + ["other", "invalid"]
        self._other = len(self._names) - 2
        self._invalid = len(self._names) - 1
        self._private = self._names.index("private")
        self._cls = np.asarray(cls, dtype=np.int8)
        self._providers = [str(p) for p in providers]
        self._provider = np.asarray(provider, dtype=np.int8)
        tor6 = np.zeros((0, 16), np.uint8) if tor6 is None else np.ascontiguousarray(tor6, dtype=np.uint8)
        self._tor6 = np.sort(tor6.view("S16").ravel())
        self._tor = self._names.index("tor") if "tor" in self._names else None

    @classmethod
    def from_npz(cls, path: str | Path) -> NetworkClassifier:
        """Load a table written by ``scripts/build_network_data.py``."""
        with np.load(path, allow_pickle=False) as data:
            return cls(
                data["lo"],
                data["hi"],
                data["cls"],
                data["provider"],
                data["classes"].tolist(),
                data["providers"].tolist(),
                data["tor6"],
            )

    @classmethod
    def default(cls) -> NetworkClassifier:
        """The classifier over the shipped package data, loaded once per process."""
        return _default_classifier()

    def classify(self, ips: Any) -> pa.Table:
        """One row per input, in input order: client_ip, ip_version, ip_prefix, ip_class, ip_provider.

        Null input gives nulls in every column; unparsable text gives ip_class "invalid".
        """
        raw = as_string_array(ips)
        parsed = parse_addresses(raw)
        version, addr4, v6_rows, v6_ints = parsed.version, parsed.addr4, parsed.v6_rows, parsed.v6_ints
        code = np.full(len(raw), -1, dtype=np.int8)
        provider = np.full(len(raw), -1, dtype=np.int8)
        code[parsed.invalid] = self._invalid

        is4 = version == 4
        if is4.any():
            idx, hit = _in_intervals(addr4[is4], self._lo, self._hi)
            code[is4] = np.where(hit, self._cls[idx], self._other)
            provider[is4] = np.where(hit, self._provider[idx], -1)
        if v6_rows:
            code[v6_rows] = self._classify_v6(v6_ints)

        return pa.table(
            {
                "client_ip": raw,
                "ip_version": pa.array(version, type=pa.int8(), mask=version == 0),
                "ip_prefix": self._prefixes(addr4, is4, version == 6, _v6_prefixes(v6_ints)),
                "ip_class": pc.take(pa.array(self._names), pa.array(code, mask=code < 0)),
                "ip_provider": pc.take(pa.array(self._providers, pa.string()), pa.array(provider, mask=provider < 0)),
            }
        )

    def class_of(self, ip: str) -> str:
        """The class of one address, without building Arrow arrays: the gateway asks once per request, where
        `classify`'s fixed cost (tens of microseconds) would dominate. Same rules as `classify`."""
        try:
            addr = ipaddress.ip_address(ip.strip())
        except ValueError:
            return "invalid"
        mapped = addr.ipv4_mapped if addr.version == 6 else addr
        if mapped is None:
            return self._names[int(self._classify_v6([int(addr)])[0])]
        x = int(mapped)
        idx = int(np.searchsorted(self._lo, x, side="right")) - 1
        if idx >= 0 and x <= self._hi[idx]:
            return self._names[int(self._cls[idx])]
        return "other"

    def _classify_v6(self, ints: list[int]) -> np.ndarray:
        """Class codes for IPv6 addresses: private by the top 64 bits, Tor by exact 16-byte match."""
        top = np.array([v >> 64 for v in ints], dtype=np.uint64)
        packed = np.array([v.to_bytes(16, "big") for v in ints], dtype="S16")
        out = np.full(len(ints), self._other, dtype=np.int8)
        if self._tor is not None:
            out[np.isin(packed, self._tor6)] = self._tor
        out[_in_intervals(top, _V6_PRIVATE_LO, _V6_PRIVATE_HI)[1]] = self._private
        return out

    @staticmethod
    def _prefixes(addr4: np.ndarray, is4: np.ndarray, is6: np.ndarray, v6_prefix: list[str]) -> pa.Array:
        """IPv4 rows get "a.b.c.0/24" built column-wise; IPv6 rows the precomputed /48 strings."""
        mask = ~is4

        def octet(shift: int) -> pa.Array:
            return pa.array((addr4 >> shift) & 0xFF, mask=mask).cast(pa.string())

        out = pc.binary_join_element_wise(octet(24), octet(16), octet(8), "0/24", ".")
        if v6_prefix:
            out = pc.replace_with_mask(out, pa.array(is6), pa.array(v6_prefix, pa.string()))
        return out

    def ranges(self, ip_class: str) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
        """Merged IPv4 intervals (lo, hi inclusive, provider) of one class, e.g. to sample addresses from.

        "other" is the complement of every listed and private range. Intervals of one class are disjoint and
        sorted; adjacent cloud intervals of different providers stay separate.
        """
        if ip_class == "invalid" or ip_class not in self._names:
            raise ValueError(f"no IPv4 ranges for class {ip_class!r}; choose from {self._names[:-1]}")
        if ip_class == "other":
            starts = np.concatenate([[0], self._hi + 1])
            ends = np.concatenate([self._lo - 1, [_IPV4_MAX]])
            keep = starts <= ends
            return starts[keep], ends[keep], [None] * int(keep.sum())
        sel = self._cls == self._names.index(ip_class)
        names = [self._providers[p] if p >= 0 else None for p in self._provider[sel].tolist()]
        return self._lo[sel].copy(), self._hi[sel].copy(), names


def _v6_prefixes(ints: list[int]) -> list[str]:
    """Compressed /48 network of each address; memoised per call since clients share /48s."""
    memo: dict[int, str] = {}
    out = []
    for v in ints:
        key = v >> 80
        text = memo.get(key)
        if text is None:
            text = memo[key] = f"{ipaddress.IPv6Address(key << 80).compressed}/48"
        out.append(text)
    return out


@functools.cache
def _default_classifier() -> NetworkClassifier:
    ref = resources.files("distillguard") / "data" / "network" / "ip_ranges.npz"
    with resources.as_file(ref) as path:
        return NetworkClassifier.from_npz(path)
