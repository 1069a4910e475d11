"""MinHash signatures (rensa) and LSH banding over whole signature matrices, with no loop over pairs.

Both the template stage (near-duplicate prompts) and the synchrony signal (accounts with near-identical sets
of active time buckets) need the same thing: from many sets, the pairs whose Jaccard similarity is high,
without comparing every pair. Sets arrive as hashed tokens straight from SQL (an Arrow list column), rensa
turns them into signatures in Rust, and banding is done on the signature matrix with numpy sorts:

- `star_edges` links every member of an LSH bucket to the bucket's first member. Connected components of
  these edges equal the components of all in-bucket pairs, at O(n · bands) edges even when thousands of
  texts are near-duplicates of each other (templated prompts are exactly that).
- `bucket_pairs` lists every pair inside buckets of at most `max_bucket` members, for callers that need the
  pairs themselves (synchrony); a bigger bucket means "these sets are all alike" and says nothing about any
  one pair, so it is skipped rather than allowed to grow quadratically.

rensa's own `RMinHashLSH` answers one query at a time with Python lists and has no cap on hot buckets, which
is why banding is done here on the matrix.
"""

from __future__ import annotations

import igraph as ig
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rensa import RMinHash

_MIX = np.uint64(0x9E3779B97F4A7C15)  # odd 64-bit constant: polynomial hash of a band's rows


def signatures(tokens: pa.ChunkedArray | pa.Array, num_perm: int, seed: int) -> np.ndarray:
    """An (n, num_perm) uint32 MinHash matrix from a list<uint64> column of token hashes (one row per set).

    Rows must not be empty (an empty set has no MinHash); callers give such rows one token of their own.
    """
    arr = tokens.combine_chunks() if isinstance(tokens, pa.ChunkedArray) else tokens
    if len(arr) == 0:
        return np.zeros((0, num_perm), dtype=np.uint32)
    lengths = pc.list_value_length(arr).to_numpy(zero_copy_only=False).astype(np.uint64)
    offsets = np.concatenate([np.zeros(1, np.uint64), np.cumsum(lengths, dtype=np.uint64)])
    values = pc.list_flatten(arr).to_numpy(zero_copy_only=False).astype(np.uint64)
    matrix = RMinHash.digest_matrix_from_flat_token_hashes(values, offsets, num_perm, seed)
    return np.array(matrix.to_rows(), dtype=np.uint32).reshape(len(arr), num_perm)


def band_keys(sig: np.ndarray, rows: int) -> np.ndarray:
    """(n, bands) uint64: one key per band of `rows` consecutive signature values."""
    n, perms = sig.shape
    bands = perms // rows
    blocks = sig[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    keys = np.zeros((n, bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(rows):
            keys = keys * _MIX + blocks[:, :, j] + np.uint64(1)
    return keys


def _buckets(column: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows sorted by key (stable), the start of each row's bucket in that order, and each bucket's size."""
    order = np.argsort(column, kind="stable")
    ordered = column[order]
    new = np.ones(len(ordered), dtype=bool)
    new[1:] = ordered[1:] != ordered[:-1]
    starts = np.flatnonzero(new)
    sizes = np.diff(np.append(starts, len(ordered)))
    start_of = np.repeat(starts, sizes)
    return order, start_of, np.repeat(sizes, sizes)


def star_edges(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Edges (member, leader) for every LSH bucket with more than one member; the leader is the bucket's
    lowest row number, so ordering rows by importance makes the most important text the leader."""
    src, dst = [], []
    for band in range(keys.shape[1]):
        order, start_of, _ = _buckets(keys[:, band])
        leader = order[start_of]
        keep = leader != order
        src.append(order[keep])
        dst.append(leader[keep])
    return _unique_pairs(np.concatenate(src), np.concatenate(dst))


def bucket_pairs(keys: np.ndarray, max_bucket: int) -> tuple[np.ndarray, np.ndarray]:
    """Every pair (a < b) sharing an LSH bucket of at most `max_bucket` members, in any band."""
    a_parts, b_parts = [], []
    for band in range(keys.shape[1]):
        order, start_of, size_of = _buckets(keys[:, band])
        end_of = start_of + size_of
        pos = np.arange(len(order))
        later = np.where((size_of > 1) & (size_of <= max_bucket), end_of - pos - 1, 0)
        first = np.repeat(pos, later)
        step = np.arange(len(first)) - np.repeat(np.cumsum(later) - later, later) + 1
        a_parts.append(order[first])
        b_parts.append(order[first + step])
    a, b = np.concatenate(a_parts), np.concatenate(b_parts)
    return _unique_pairs(np.minimum(a, b), np.maximum(a, b))


def _unique_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if not len(a):
        return a.astype(np.int64), b.astype(np.int64)
    pairs = np.unique(np.column_stack([a, b]).astype(np.int64), axis=0)
    return pairs[:, 0], pairs[:, 1]


def estimated_jaccard(sig: np.ndarray, a: np.ndarray, b: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    """MinHash estimate of the Jaccard similarity of rows a[i] and b[i] (share of equal signature values)."""
    out = np.empty(len(a), dtype=np.float64)
    for lo in range(0, len(a), chunk):
        hi = lo + chunk
        out[lo:hi] = (sig[a[lo:hi]] == sig[b[lo:hi]]).mean(axis=1)
    return out


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component label of each of `n` nodes under edges (a[i], b[i])."""
    graph = ig.Graph(n=n, edges=list(zip(a.tolist(), b.tolist(), strict=True)))
    return np.asarray(graph.connected_components().membership, dtype=np.int64)
