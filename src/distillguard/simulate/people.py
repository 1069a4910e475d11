"""A population of accounts with their own rates and rhythms, and the helpers every population uses.

Why shared helpers: benign users, hard negatives and campaign accounts that mimic people must draw clients,
model preferences, sign-up times and content mixtures from the *same* distributions, or the difference in
generator would itself separate them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from distillguard.simulate import content, network, timing
from distillguard.simulate.world import Block, Book

DAY_MS = timing.DAY_MS
BENIGN_KINDS = ("chat", "persona_chat", "dev_code", "tool_app", "dev_agent", "analysis", "templated_benign")


@dataclass
class People:
    """Accounts with their own rates and human or machine rhythm; one timing profile per population."""

    role: str
    span: slice
    timing: str
    session_mean: float
    gap_s: float
    dispersion: float  # gamma shape of day-to-day volume (small: bursty days)
    rate: np.ndarray  # requests per fully active day at weekly factor 1
    tz: np.ndarray
    active_from: np.ndarray
    active_to: np.ndarray
    profile: np.ndarray
    boost: dict[int, float] = field(default_factory=dict)  # day -> volume multiplier
    expected: float = 0.0

    def _factors(self, d: int, start_ms: int) -> np.ndarray:
        lo = start_ms + d * DAY_MS
        overlap = np.clip(np.minimum(self.active_to, lo + DAY_MS) - np.maximum(self.active_from, lo), 0, DAY_MS)
        return timing.weekday_factor(self.timing, lo, self.tz) * self.boost.get(d, 1.0) * overlap / DAY_MS

    def calibrate(self, total: float, days: int, start_ms: int) -> None:
        """Scale rates so the expected request count over the scenario equals `total`."""
        expected = sum(float((self.rate * self._factors(d, start_ms)).sum()) for d in range(days))
        self.rate = self.rate * (total / expected if expected else 0.0)
        self.expected = total

    def daily_rate(self) -> np.ndarray:
        """Mean requests per active day of each account (after calibration)."""
        return self.rate

    def day(self, d: int, start_ms: int, rng: np.random.Generator) -> Block:
        lam = self.rate * self._factors(d, start_ms)
        lam = lam * rng.gamma(self.dispersion, 1.0 / self.dispersion, len(lam))
        counts = rng.poisson(lam)
        local, ts = timing.sessions(
            rng, start_ms + d * DAY_MS, counts, self.tz, self.timing, self.session_mean, self.gap_s
        )
        keep = (ts >= self.active_from[local]) & (ts < self.active_to[local])
        local, ts = local[keep], ts[keep]
        return Block(self.span.start + local, ts, np.zeros(len(ts), bool), self.profile[local])


# ------------------------------------------------------------------------------------------- helpers


def pick_clients(rng: np.random.Generator, n: int, browser_share: float) -> dict[str, np.ndarray]:
    """Each account's main client (browser or SDK, by popularity) and an occasional second one."""
    cl = network.clients()
    browsers, sdks = cl.of_kind("browser"), np.concatenate([cl.of_kind("sdk"), cl.of_kind("gateway")])
    pb = cl.weight[browsers] / cl.weight[browsers].sum()
    ps = cl.weight[sdks] * np.where(np.array(cl.kind)[sdks] == "gateway", 0.04, 1.0)  # few run their own gateway
    ps /= ps.sum()
    first = np.where(rng.random(n) < browser_share, rng.choice(browsers, n, p=pb), rng.choice(sdks, n, p=ps))
    others = np.concatenate([browsers, sdks, cl.of_kind("cli")])
    second = rng.choice(others, n)
    return {"client1": first, "client2": second, "p_client2": np.where(rng.random(n) < 0.35, 0.15, 0.0)}


_MAX_TOKENS = np.array([1024, 2048, 4096, 8192, 16000, 32000])


def habits(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """How ordinary clients are written: keys per account (mostly one), a max_tokens most code hard-wires
    (0: varies per request), and whether user content is sent as content blocks."""
    fixed = rng.choice(_MAX_TOKENS, n, p=[0.2, 0.15, 0.35, 0.2, 0.07, 0.03])
    return {
        "key_n": rng.choice([1, 2, 3, 5], n, p=[0.6, 0.25, 0.1, 0.05]),
        "fixed_mt": np.where(rng.random(n) < 0.65, fixed, 0),
        "p_blocks": np.where(rng.random(n) < 0.25, 1.0, 0.0),
    }


def model_prefs(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    p0 = rng.beta(3, 2, n)
    return {"model_cum0": p0, "model_cum1": p0 + (1 - p0) * rng.beta(3, 1.5, n)}


def created_times(rng: np.random.Generator, n: int, start_ms: int, days: int, new_share: float = 0.07) -> np.ndarray:
    """Sign-up times: mostly months before the scenario (exponential ages), some during it."""
    age = np.minimum(rng.exponential(300, n), 1000) + rng.random(n)
    created = start_ms - (age * DAY_MS).astype(np.int64)
    new = rng.random(n) < new_share
    return np.where(new, start_ms + (rng.random(n) * days * DAY_MS).astype(np.int64), created)


def p429(rate: np.ndarray) -> np.ndarray:
    """Rate-limit responses grow with an account's daily volume."""
    return 0.002 + np.minimum(0.06, np.asarray(rate) / 3000.0)


def kind_mixtures(rng: np.random.Generator, base: tuple[float, ...], n: int, copy_templates: float) -> np.ndarray:
    """Per-account mixtures over BENIGN_KINDS: Dirichlet around `base` (many accounts are concentrated);
    a `copy_templates` share also pastes campaign-style templates now and then."""
    alpha = np.asarray(base) * 1.5 + 1e-3
    mix = rng.dirichlet(alpha, n)
    tmpl = np.where(rng.random(n) < copy_templates, rng.uniform(0.03, 0.2, n), 0.0)
    mix = np.column_stack([mix * (1 - tmpl)[:, None], tmpl])
    full = np.zeros((n, len(content.KINDS)))
    for j, name in enumerate(BENIGN_KINDS):
        full[:, content.KIND_INDEX[name]] = mix[:, j]
    return full


def add_pool(book: Book, space: str, seed: int, key: int, n: int, by_size: bool = True) -> int:
    """Register `n` addresses of a class as a pool; an office or campus NAT uses neighbouring addresses."""
    if space in ("corporate", "campus"):
        base = network.sample(space, seed, 0x7001, key) & np.uint32(0xFFFFFF00)
        return book.add_pool(base + np.arange(1, n + 1, dtype=np.uint32))
    return book.add_pool(network.sample(space, seed, 0x7001, key, np.arange(n), by_size=by_size))


def make_people(
    book: Book,
    rng: np.random.Generator,
    role: str,
    n: int,
    start_ms: int,
    days: int,
    timing_profile: str,
    session: tuple[float, float],
    dispersion: float,
    weights: np.ndarray,
    profile: np.ndarray,
    domains: list[str],
    locals_: list[str],
    tz: np.ndarray,
    boost: dict[int, float] | None = None,
    **cols: np.ndarray | float,
) -> People:
    created = cols.setdefault("created_ms", created_times(rng, n, start_ms, days))
    span = book.add(n, role, domains, locals_, tz=tz, profile=profile, active_from=created, **cols)
    return People(
        role,
        span,
        timing_profile,
        session[0],
        session[1],
        dispersion,
        np.asarray(weights, float),
        tz,
        np.asarray(created),
        np.full(n, np.iinfo(np.int64).max),
        profile,
        boost or {},
    )
