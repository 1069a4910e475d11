"""Per-request attributes (model, client, key, address, status, end user, content) for a day of requests.

Why here and vectorised: these follow from per-account behaviour stored in ``world.Accounts`` plus the
request time, so they are computed for a whole sorted block at once, never per row in Python. Addresses
that must persist (a home line for a few weeks, a cell's proxy pool for a few days) are hashes of (seed,
account or cell, epoch), so they do not depend on how days are batched.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillguard.simulate import content, network
from distillguard.simulate.rand import hash_keys, hex_bytes, unit
from distillguard.simulate.scenarios import ALL_KNOBS
from distillguard.simulate.world import (
    ADOPT_ENTHUSIAST,
    ADOPT_EVAL,
    ADOPT_FAST,
    ADOPT_GRADUAL,
    ADOPT_PLATFORM,
    ADOPT_SHIFT,
    CELL_CLASSES,
    SRC_CELL,
    SRC_HOME,
    SRC_HYDRA,
    SRC_MOBILE,
    SRC_POOL,
    SRC_ROTATE,
    Accounts,
    Block,
)

MODELS = ("frontier-2", "frontier-2-mini", "frontier-1.5", "frontier-3")
NEW_MODEL = 3
DAY_MS = 86_400_000
CELL_POOL, CELL_EPOCH_MS = 24, 3 * DAY_MS
HYDRA_POOL, HYDRA_EPOCH_MS = 4_000, 2 * DAY_MS
RESAMPLED_BIT = ALL_KNOBS.index("resampled_tasks")
RESAMPLED_SHARE = 0.25  # "resampled_tasks": tasks from a quarter of each pool, so each comes back ~4 times
ROTATE_MS = 4 * 3_600_000  # a rotating residential proxy keeps one exit for up to four hours
MOBILE_POOL = 4_096
_ROTATE_STRIDE = 0x9E3779B1  # odd, so k -> k * stride mod 2**26 is a bijection of the residential space


@dataclass
class Rows:
    """Everything the writer needs for a batch of requests, in timestamp order."""

    ts: np.ndarray
    rid: np.ndarray  # 32 hex digits (numpy S32)
    acct: np.ndarray
    key: np.ndarray
    ip: np.ndarray
    client: np.ndarray
    model: np.ndarray
    status: np.ndarray
    end_user: np.ndarray  # 0: none
    blocks: np.ndarray  # user content as a list of content blocks instead of a string
    input_tokens: np.ndarray
    content: content.Content


def build_rows(
    rng: np.random.Generator,
    acc: Accounts,
    tables: content.Tables,
    lens: dict[str, np.ndarray],
    block: Block,
    seed: int,
    release_ms: int,
    infra_seed: int | None = None,
) -> Rows:
    """Attributes for a block already sorted by time (``infra_seed``: see ``addresses``)."""
    a = block.acct
    c = acc.col
    n = len(a)
    rank = c["camp_rank"][a]
    has = rank >= 0
    fam_sys = np.full((n, len(content.FAMILY_INDEX)), -1, dtype=np.int32)
    fam_wrap = fam_sys.copy()
    if has.any():
        fam_sys[has] = acc.fam_sys[rank[has]]
        fam_wrap[has] = acc.fam_wrap[rank[has]]
    resampled = (c["knobs"][a] >> RESAMPLED_BIT) & 1 == 1
    share = np.where(resampled, RESAMPLED_SHARE, 1.0) if resampled.any() else None
    body = content.choose(rng, tables, acc.kind_cum[block.profile], fam_sys, fam_wrap, c["fixed_mt"][a], share)

    u = rng.random((6, n))
    client = np.where(u[0] < c["p_client2"][a], c["client2"][a], c["client1"][a])
    key = acc.key_off[a] + (u[1] ** 2 * c["key_n"][a]).astype(np.int64)
    p429 = c["p429"][a]
    status = np.where(u[2] < p429, 429, np.where(u[2] < p429 + 0.0015, 529, 200)).astype(np.int16)
    users = c["end_users"][a]
    end_user = np.where(users > 0, hash_keys(seed, 0xE0, a, (u[3] ** 3 * users).astype(np.int64)), 0)
    tokens = sum(lens[t][getattr(body, t)] for t in ("sys", "user", "wrap", "snippet", "tail", "tools"))
    input_tokens = (tokens / 3.6 * (0.9 + 0.2 * u[4]) + 12).astype(np.int32)
    rid = hex_bytes(rng.integers(0, 2**64, 2 * n, dtype=np.uint64)).view("S32")
    return Rows(
        ts=block.ts,
        rid=rid,
        acct=a,
        key=key,
        ip=addresses(rng, acc, a, block.ts, seed, infra_seed),
        client=client,
        model=models(rng, acc, a, block.ts, release_ms),
        status=status,
        end_user=end_user.astype(np.uint64),
        blocks=u[5] < c["p_blocks"][a],
        input_tokens=input_tokens,
        content=body,
    )


def models(rng: np.random.Generator, acc: Accounts, a: np.ndarray, ts: np.ndarray, release_ms: int) -> np.ndarray:
    """Model per request: an account's usual mix before the release, then its adoption curve."""
    c = acc.col
    t = np.maximum(ts - release_ms, 0) / DAY_MS  # days since release, 0 before it
    after = ts >= release_ms
    adopt = c["adopt"][a]
    amax = c["adopt_max"][a]
    p = np.zeros(len(a))
    p = np.where(adopt == ADOPT_GRADUAL, amax * (1 - np.exp(-t / 4)), p)
    p = np.where(adopt == ADOPT_FAST, amax * (1 - np.exp(-t / 1.5)), p)
    p = np.where(adopt == ADOPT_ENTHUSIAST, 0.92 * np.clip(t * 8, 0, 1), p)  # within ~3 h
    p = np.where(adopt == ADOPT_SHIFT, 0.5 * np.clip(t * 24 / 18, 0, 1), p)  # half the traffic within 18 h
    p = np.where(adopt == ADOPT_EVAL, np.where(t < 1, 0.75, 0.35), p)  # release-day benchmark run
    p = np.where(adopt == ADOPT_PLATFORM, np.where(t >= 3, 0.85, 0.03), p)  # default switched after 3 days
    u = rng.random((2, len(a)))
    old = np.where(u[0] < c["model_cum0"][a], 0, np.where(u[0] < c["model_cum1"][a], 1, 2))
    return np.where(after & (u[1] < p), NEW_MODEL, old).astype(np.int8)


def addresses(
    rng: np.random.Generator, acc: Accounts, a: np.ndarray, ts: np.ndarray, seed: int, infra_seed: int | None = None
) -> np.ndarray:
    """Client IPv4 per request (uint32) from each account's primary or secondary address source.

    Campaign proxy pools (cell and hydra) are hashed from ``infra_seed`` when given, else from ``seed``: runs
    with different seeds and one infra seed see the same proxy exits, as two providers hit by one actor do.
    """
    proxy_seed = seed if infra_seed is None else infra_seed
    c = acc.col
    second = rng.random(len(a)) < c["p_src2"][a]
    src = np.where(second, c["src2"][a], c["src1"][a])
    arg = np.where(second, c["arg2"][a], c["arg1"][a])
    ip = np.zeros(len(a), dtype=np.uint32)
    spaces = network.address_spaces()
    sel = src == SRC_HOME
    if sel.any():
        phase = unit(hash_keys(seed, 0x40, a[sel])) * arg[sel]
        epoch = ((ts[sel] / DAY_MS + phase) // np.maximum(arg[sel], 1)).astype(np.int64)
        ip[sel] = spaces["residential"].at(hash_keys(seed, 0x41, a[sel], epoch))
    sel = src == SRC_MOBILE
    if sel.any():
        j = hash_keys(seed, 0x42, a[sel], ts[sel] // 7_200_000) % np.uint64(MOBILE_POOL)
        ip[sel] = spaces["mobile"].at(hash_keys(seed, 0x43, arg[sel], j))
    sel = src == SRC_POOL
    if sel.any():
        p = arg[sel]
        ip[sel] = acc.pool_ips[acc.pool_off[p] + (rng.random(int(sel.sum())) * acc.pool_n[p]).astype(np.int64)]
    for code, pool, epoch_ms in ((SRC_CELL, CELL_POOL, CELL_EPOCH_MS), (SRC_HYDRA, HYDRA_POOL, HYDRA_EPOCH_MS)):
        sel = src == code
        if sel.any():
            ip[sel] = _proxy(rng, acc, arg[sel], ts[sel], proxy_seed, code, pool, epoch_ms)
    sel = src == SRC_ROTATE
    if sel.any():
        blocks_per_life = 40 * DAY_MS // ROTATE_MS  # rot_rank * 240 stays far below the 2**26 addresses
        k = c["rot_rank"][a[sel]] * blocks_per_life + (ts[sel] // ROTATE_MS) % blocks_per_life
        ip[sel] = spaces["residential"].nth(k, _ROTATE_STRIDE)
    return ip


def _proxy(
    rng: np.random.Generator,
    acc: Accounts,
    pool_id: np.ndarray,
    ts: np.ndarray,
    seed: int,
    code: int,
    size: int,
    epoch_ms: int,
) -> np.ndarray:
    """A rotating proxy pool: `size` exits per epoch, clustered in a few hosting ranges per pool."""
    spaces = network.address_spaces()
    j = rng.integers(0, size, len(pool_id))
    epoch = ts // epoch_ms
    h = hash_keys(seed, code, pool_id, epoch, j)
    cum = acc.cell_cum[pool_id] if code == SRC_CELL else np.tile([0.35, 0.35, 1.0, 1.0], (len(pool_id), 1))
    cls = (cum < unit(h)[:, None]).sum(axis=1)
    out = np.zeros(len(pool_id), dtype=np.uint32)
    for i, name in enumerate(CELL_CLASSES):
        sel = cls == i
        if not sel.any():
            continue
        if name in ("datacenter", "vpn"):  # a pool rents from three hosting ranges
            iv = hash_keys(seed, code, pool_id[sel], j[sel] % 3, i)
            out[sel] = spaces[name].pick(iv, h[sel] >> np.uint64(7))
        else:
            out[sel] = spaces[name].at(h[sel], by_size=name == "residential")
    return out
