"""When requests happen: human sessions in local time, machine batches, and load-balanced campaign streams.

Why three models: timing is one of the linkage tells. People work in sessions during their own waking hours
(and less at weekends); batch jobs run around the clock in bursts; a campaign's load balancer spreads one
stream round-robin over a cell's accounts, so the accounts are busy at the same hours in lock-step, around
the clock. The ``human_timing`` knob switches a campaign from the third model to the first.

All functions work on one UTC day at a time and return arrays (account index, timestamp in ms).
"""

from __future__ import annotations

import numpy as np

DAY_MS = 86_400_000

# Relative activity per local hour 0..23.
HOURLY = {
    "personal": [2, 1, 1, 1, 1, 1, 2, 4, 6, 7, 8, 8, 9, 8, 8, 8, 8, 9, 10, 11, 12, 11, 8, 4],
    "work": [1, 0.5, 0.5, 0.5, 0.5, 1, 2, 5, 10, 14, 15, 14, 10, 13, 15, 15, 13, 10, 5, 3, 2, 2, 1, 1],
    "student": [6, 4, 2, 1, 0.5, 0.5, 1, 2, 4, 6, 7, 8, 8, 9, 10, 10, 10, 11, 11, 12, 13, 13, 12, 9],
    "machine": [1] * 24,
}
# Relative activity per local weekday, Monday first.
WEEKLY = {
    "personal": [1.0, 1.0, 1.0, 1.0, 1.0, 1.1, 1.1],
    "work": [1.0, 1.05, 1.05, 1.0, 0.9, 0.25, 0.2],
    "student": [1.0, 1.0, 1.0, 1.0, 0.8, 0.6, 1.1],
    "machine": [1.0] * 7,
}
_CDF = {k: np.cumsum(v) / np.sum(v) for k, v in HOURLY.items()}


def weekday_factor(profile: str, day_start_ms: int, tz_min: np.ndarray) -> np.ndarray:
    """Weekly rhythm for each account on the local weekday at noon UTC of this day."""
    local_days = (day_start_ms + DAY_MS // 2 + tz_min.astype(np.int64) * 60_000) // DAY_MS
    weekday = (local_days + 3) % 7  # 1970-01-01 was a Thursday
    return np.asarray(WEEKLY[profile])[weekday]


def sessions(
    rng: np.random.Generator,
    day_start_ms: int,
    counts: np.ndarray,
    tz_min: np.ndarray,
    profile: str,
    session_mean: float,
    gap_s: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Requests grouped in sessions that start at local-profile hours; gaps lognormal around `gap_s`.

    ``counts[i]`` requests for local account i; returns (local account index, UTC timestamp ms), one row per
    request. Times wrap within the UTC day.
    """
    counts = np.asarray(counts, dtype=np.int64)
    active = counts > 0
    n_sess = np.where(active, np.clip(rng.binomial(counts, min(1.0, 1.0 / session_mean)), 1, None), 0)
    n_sess = np.minimum(n_sess, counts)
    sess_acc = np.repeat(np.arange(len(counts)), n_sess)
    hour = np.searchsorted(_CDF[profile], rng.random(len(sess_acc)), side="right")
    local = hour * 3600.0 + rng.random(len(sess_acc)) * 3600.0
    start = np.mod(local - tz_min[sess_acc] * 60.0, 86_400.0)
    gap = gap_s * rng.lognormal(0.0, 0.6, len(sess_acc))

    req_acc = np.repeat(np.arange(len(counts)), counts)
    sess_first = np.cumsum(n_sess) - n_sess
    req_sess = sess_first[req_acc] + (rng.random(len(req_acc)) * n_sess[req_acc]).astype(np.int64)
    order = np.argsort(req_sess, kind="stable")
    req_sess = req_sess[order]
    pos = np.arange(len(req_sess)) - np.searchsorted(req_sess, req_sess, side="left")
    sec = start[req_sess] + pos * gap[req_sess] * rng.uniform(0.5, 1.5, len(req_sess))
    ts = day_start_ms + (np.mod(sec, 86_400.0) * 1000.0).astype(np.int64)
    return req_acc[order], ts


def balanced(
    rng: np.random.Generator,
    day_start_ms: int,
    cell_counts: np.ndarray,
    cell_hours: np.ndarray,
    cell_first: np.ndarray,
    cell_size: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """A load balancer per cell: one stream over the cell's active hours, dealt round-robin to its accounts.

    ``cell_hours`` is a (cells, 24) boolean mask of UTC hours the cell runs; ``cell_first``/``cell_size``
    locate each cell's accounts in the caller's local index. Returns (local account index, timestamp ms).
    """
    n_cells = len(cell_counts)
    cell = np.repeat(np.arange(n_cells), cell_counts)
    hours_sorted = np.argsort(~cell_hours, axis=1, kind="stable")  # active hours first
    n_active = np.maximum(cell_hours.sum(axis=1), 1)
    pick = (rng.random(len(cell)) * n_active[cell]).astype(np.int64)
    hour = hours_sorted[cell, pick]
    ms = (hour * 3600.0 + rng.random(len(cell)) * 3600.0) * 1000.0
    ts = day_start_ms + ms.astype(np.int64)
    order = np.lexsort((ts, cell))
    cell, ts = cell[order], ts[order]
    rank = np.arange(len(cell)) - np.searchsorted(cell, cell, side="left")
    turn = rng.integers(0, np.maximum(cell_size, 1))  # where the round-robin starts today
    acc = cell_first[cell] + (rank + turn[cell]) % np.maximum(cell_size[cell], 1)
    return acc, ts
