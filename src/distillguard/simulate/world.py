"""The account registry every population writes into, and the request block every population returns.

Why columnar: at scale 1.0 there are 224,000 accounts and 32M requests, so per-account behaviour (how to
pick a model, a client, an address, a key) is stored as numpy columns indexed by a global account number,
and per-request attributes are computed for a whole day of requests at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

ACCOUNT_TYPES = ("individual", "startup", "education", "research", "enterprise", "reseller")

# Where a request's client address comes from (per account: a primary and a secondary source).
SRC_HOME = 0  # residential line, re-leased every `arg` days
SRC_MOBILE = 1  # carrier-grade NAT pool of carrier `arg` (shared by unrelated users)
SRC_POOL = 2  # a fixed set of addresses (office, campus NAT, VPN egress, cloud NAT gateway): pool `arg`
SRC_CELL = 3  # a campaign cell's proxy pool, rotating every few days: cell `arg`
SRC_HYDRA = 4  # the hydra reseller's shared proxy network, rotating
SRC_ROTATE = 5  # residential-proxy rotation: an address no other account ever uses

CELL_CLASSES = ("datacenter", "vpn", "residential", "tor")  # address classes a proxy pool mixes

# How an account moves to the model released mid-scenario.
ADOPT_GRADUAL, ADOPT_ENTHUSIAST, ADOPT_SHIFT, ADOPT_EVAL, ADOPT_PLATFORM, ADOPT_FAST = range(6)

_DEFAULTS: dict[str, tuple[type, object]] = {
    "created_ms": (np.int64, 0),
    "acct_type": (np.int8, 0),
    "org": (np.int64, -1),
    "payment": (np.int64, -1),
    "country": (np.int16, 0),
    "verified": (bool, False),
    "role": (np.int16, 0),
    "campaign": (np.int16, -1),
    "cell": (np.int32, -1),
    "knobs": (np.int16, 0),
    "mixing": (np.float32, 0.0),
    "active_from": (np.int64, 0),
    "active_to": (np.int64, np.iinfo(np.int64).max),
    "tz": (np.int32, 0),
    "profile": (np.int32, 0),
    "client1": (np.int32, 0),
    "client2": (np.int32, 0),
    "p_client2": (np.float32, 0.0),
    "key_n": (np.int32, 1),
    "src1": (np.int8, SRC_HOME),
    "src2": (np.int8, SRC_MOBILE),
    "p_src2": (np.float32, 0.0),
    "arg1": (np.int64, 14),
    "arg2": (np.int64, 0),
    "model_cum0": (np.float32, 0.6),  # P(frontier-2), then P(frontier-2 or frontier-2-mini)
    "model_cum1": (np.float32, 0.9),
    "adopt": (np.int8, ADOPT_GRADUAL),
    "adopt_max": (np.float32, 0.3),
    "p_blocks": (np.float32, 0.1),
    "p429": (np.float32, 0.002),
    "fixed_mt": (np.int32, 0),
    "camp_rank": (np.int32, -1),
    "rot_rank": (np.int64, -1),
    "end_users": (np.int32, 0),
}


@dataclass
class Block:
    """Requests of one population on one day, before per-request attributes are chosen."""

    acct: np.ndarray  # global account index (int64)
    ts: np.ndarray  # epoch milliseconds (int64)
    campaign: np.ndarray  # True where the request is campaign harvest (not a reseller customer's)
    profile: np.ndarray  # content mixture row (int32)

    @staticmethod
    def concat(blocks: list[Block]) -> Block:
        return Block(*(np.concatenate([getattr(b, f) for b in blocks]) for f in ("acct", "ts", "campaign", "profile")))


@dataclass
class Book:
    """All accounts (columns), content mixtures, address pools and per-campaign-account template choices."""

    roles: list[str] = field(default_factory=list)
    cols: dict[str, list[np.ndarray]] = field(default_factory=lambda: {k: [] for k in _DEFAULTS})
    email_domain: list[str] = field(default_factory=list)
    email_local: list[str] = field(default_factory=list)
    profiles: list[np.ndarray] = field(default_factory=list)
    pools: list[np.ndarray] = field(default_factory=list)
    fam_sys: list[np.ndarray] = field(default_factory=list)
    fam_wrap: list[np.ndarray] = field(default_factory=list)
    cell_mix: list[np.ndarray] = field(default_factory=list)
    n: int = 0
    entities: int = 0

    def new_entities(self, n: int) -> np.ndarray:
        """Fresh ids for organisations or payment instruments (hashed into opaque strings on output)."""
        self.entities += n
        return np.arange(self.entities - n, self.entities, dtype=np.int64)

    def role_id(self, role: str) -> int:
        if role not in self.roles:
            self.roles.append(role)
        return self.roles.index(role)

    def add(self, n: int, role: str, domains: list[str], locals_: list[str], **cols: np.ndarray | float) -> slice:
        """Append n accounts; unspecified columns take their defaults. Returns their global index range."""
        if len(domains) != n or len(locals_) != n:
            raise ValueError("one e-mail domain and local part per account")
        cols["role"] = self.role_id(role)
        for name, (dtype, default) in _DEFAULTS.items():
            value = cols.pop(name, default)
            self.cols[name].append(np.broadcast_to(np.asarray(value, dtype=dtype), (n,)).copy())
        if cols:
            raise TypeError(f"unknown account columns {sorted(cols)}")
        self.email_domain += domains
        self.email_local += locals_
        self.n += n
        return slice(self.n - n, self.n)

    def add_profiles(self, mixtures: np.ndarray) -> np.ndarray:
        """Register content mixtures (rows over content.KINDS); returns their profile ids."""
        mixtures = np.atleast_2d(mixtures)
        start = sum(len(p) for p in self.profiles)
        self.profiles.append(mixtures.astype(np.float32))
        return np.arange(start, start + len(mixtures), dtype=np.int32)

    def add_pool(self, ips: np.ndarray) -> int:
        """Register a fixed address pool; returns its id."""
        self.pools.append(np.asarray(ips, dtype=np.uint32))
        return len(self.pools) - 1

    def add_templates(self, sys: np.ndarray, wrap: np.ndarray) -> np.ndarray:
        """Per-account (rows) x family (columns) system prompt and wrapper ids; returns the camp_rank values."""
        start = sum(len(s) for s in self.fam_sys)
        self.fam_sys.append(np.asarray(sys, dtype=np.int32))
        self.fam_wrap.append(np.asarray(wrap, dtype=np.int32))
        return np.arange(start, start + len(sys), dtype=np.int32)

    def add_cell(self, mix: dict[str, float]) -> int:
        """Register a campaign cell's proxy mix over CELL_CLASSES; returns the cell id."""
        v = np.array([mix.get(c, 0.0) for c in CELL_CLASSES])
        self.cell_mix.append(np.cumsum(v / v.sum()))
        return len(self.cell_mix) - 1

    def finalize(self) -> Accounts:
        cols = {k: np.concatenate(v) if v else np.zeros(0) for k, v in self.cols.items()}
        pool_n = np.array([len(p) for p in self.pools] or [0], dtype=np.int64)
        return Accounts(
            n=self.n,
            roles=list(self.roles),
            col=cols,
            email_domain=self.email_domain,
            email_local=self.email_local,
            kind_cum=np.cumsum(np.concatenate(self.profiles), axis=1, dtype=np.float32),
            pool_ips=np.concatenate(self.pools) if self.pools else np.zeros(0, np.uint32),
            pool_off=np.cumsum(pool_n) - pool_n,
            pool_n=pool_n,
            key_off=np.cumsum(cols["key_n"]) - cols["key_n"],
            fam_sys=np.concatenate(self.fam_sys) if self.fam_sys else np.zeros((0, 0), np.int32),
            fam_wrap=np.concatenate(self.fam_wrap) if self.fam_wrap else np.zeros((0, 0), np.int32),
            cell_cum=np.stack(self.cell_mix) if self.cell_mix else np.zeros((0, len(CELL_CLASSES))),
        )


@dataclass
class Accounts:
    """The frozen registry: one entry per account in every ``col`` array."""

    n: int
    roles: list[str]
    col: dict[str, np.ndarray]
    email_domain: list[str]
    email_local: list[str]
    kind_cum: np.ndarray
    pool_ips: np.ndarray
    pool_off: np.ndarray
    pool_n: np.ndarray
    key_off: np.ndarray
    fam_sys: np.ndarray
    fam_wrap: np.ndarray
    cell_cum: np.ndarray
