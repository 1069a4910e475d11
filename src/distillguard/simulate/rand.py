"""Counter-based hashing and id formatting, vectorised.

Why: many simulated attributes must be a stable function of a key (an account's home address in a given
week, a cell's proxy pool on a given day) without storing state across days or depending on the order in
which rows are generated. A 64-bit mixer (SplitMix64's finaliser) over keys gives that in one numpy pass.
"""

from __future__ import annotations

import numpy as np

_HEX = np.array([f"{i:02x}" for i in range(256)], dtype="S2").view(np.uint16)


def mix64(x: np.ndarray | int) -> np.ndarray:
    """SplitMix64 finaliser: a bijective, well-scrambled map of uint64 values."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def hash_keys(*parts: np.ndarray | int) -> np.ndarray:
    """One uint64 hash of several integer keys (broadcast together)."""
    h = np.uint64(0x243F6A8885A308D3)
    for p in parts:
        with np.errstate(over="ignore"):
            h = mix64(np.asarray(p).astype(np.uint64) ^ (h * np.uint64(0x100000001B3)))
    return h


def unit(h: np.ndarray) -> np.ndarray:
    """Hash values mapped to floats in [0, 1)."""
    return (np.asarray(h, dtype=np.uint64) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def hex_ids(values: np.ndarray, prefix: str) -> list[str]:
    """``prefix`` + 16 lowercase hex digits per uint64 (big-endian), as Python strings."""
    return [prefix + s.decode() for s in hex_bytes(values).tolist()]


def hex_bytes(values: np.ndarray) -> np.ndarray:
    """16-character hex of each uint64 as a numpy ``S16`` array (no Python loop)."""
    b = np.asarray(values, dtype=">u8").view(np.uint8).reshape(-1, 8)
    return np.ascontiguousarray(_HEX[b]).view("S16").ravel()
