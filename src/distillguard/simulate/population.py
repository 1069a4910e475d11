"""The ordinary benign population: accounts of every type with heavy-tailed volumes.

Why organisations matter: startups, companies, universities and labs hold several accounts that share a
domain, a payment method, an office or campus network and a time zone, so "linked accounts" are common among
ordinary customers too. Volumes are lognormal per account (most send a few requests a day, a few send
thousands), plus a handful of legitimate resellers running gateways around the clock.
"""

from __future__ import annotations

import numpy as np

from distillguard.simulate import content, hard_negatives, identity, network
from distillguard.simulate.people import (
    People,
    add_pool,
    habits,
    kind_mixtures,
    make_people,
    model_prefs,
    pick_clients,
)
from distillguard.simulate.scenarios import Scenario, scaled
from distillguard.simulate.world import ACCOUNT_TYPES, ADOPT_GRADUAL, SRC_HOME, SRC_MOBILE, SRC_POOL, Book

# account type: (share of generic benign accounts, volume weight, timing profile, browser share, kind mix)
_TYPES = {
    "individual": (0.7195, 1.0, "personal", 0.45, (0.55, 0.1, 0.15, 0.03, 0.02, 0.15)),
    "startup": (0.12, 3.0, "work", 0.1, (0.15, 0.05, 0.35, 0.2, 0.15, 0.1)),
    "enterprise": (0.09, 1.5, "work", 0.35, (0.3, 0.05, 0.25, 0.1, 0.05, 0.25)),
    "education": (0.04, 0.8, "student", 0.6, (0.5, 0.05, 0.25, 0, 0, 0.2)),
    "research": (0.03, 2.0, "work", 0.2, (0.2, 0.0, 0.3, 0.1, 0.1, 0.3)),
    "reseller": (0.0005, 150.0, "machine", 0.0, (0.35, 0.1, 0.25, 0.1, 0.05, 0.15)),
}


# ---------------------------------------------------------------------------------------- builders


def build(book: Book, tables: content.Tables, sc: Scenario, scale: float, seed: int) -> list[People]:
    """Register every benign account; return one People per population, calibrated to its volume."""
    start_ms = int(sc.start.timestamp() * 1000)
    rng = np.random.default_rng([seed, 0xB0])
    n_total = scaled(sc.benign.accounts, scale, sc.benign.min_accounts)
    out: list[People] = []
    for t, (share, weight, prof, browser, base) in _TYPES.items():
        n = max(1 if t == "reseller" else 2, round(share * n_total))
        out.append(_ordinary(book, rng, t, n, weight, prof, browser, base, seed, start_ms, sc.days))
    vol = np.array([p.rate.sum() for p in out])
    for p, v in zip(out, vol, strict=True):
        p.calibrate(sc.benign.requests * scale * v / vol.sum(), sc.days, start_ms)
    assignments = rng.choice(np.concatenate([tables.pool("bench"), tables.pool("code")[:200]]), 24, replace=False)
    tables.pools["assignments"] = [(assignments.astype(np.int32), 1.0)]
    release = int(sc.release_day)
    hn_scale = max(scale, sc.hard_negative_scale)
    for kind, pop in sc.hard_negatives.items():
        n = scaled(pop.accounts, hn_scale, pop.min_accounts)
        rng_kind = np.random.default_rng([seed, 0xB1, len(out)])
        p = hard_negatives.BUILDERS[kind](book, rng_kind, n, seed, start_ms, sc.days, release)
        p.calibrate(pop.requests * hn_scale, sc.days, start_ms)
        out.append(p)
    return out


def _ordinary(
    book: Book,
    rng: np.random.Generator,
    acct_type: str,
    n: int,
    weight: float,
    prof: str,
    browser: float,
    base: tuple[float, ...],
    seed: int,
    start_ms: int,
    days: int,
) -> People:
    country = identity.countries(rng, n)
    w = weight * rng.lognormal(0.0, 1.5, n)
    cols: dict[str, np.ndarray | float] = {
        "acct_type": ACCOUNT_TYPES.index(acct_type),
        "country": country,
        "verified": rng.random(n) < 0.6,
        **pick_clients(rng, n, browser),
        **model_prefs(rng, n),
        **habits(rng, n),
        "adopt": ADOPT_GRADUAL,
        "adopt_max": rng.beta(1.5, 3, n),
        "p_src2": np.where(rng.random(n) < 0.3, rng.uniform(0.1, 0.5, n), 0.0),
        "src1": SRC_HOME,
        "arg1": rng.integers(5, 40, n),
        "src2": SRC_MOBILE,
        "arg2": rng.integers(0, 12, n),
    }
    domains, locals_ = identity.consumer_domains(rng, n), identity.person_locals(rng, n)
    payment = np.where(rng.random(n) < 0.95, book.new_entities(n), -1)
    if acct_type != "individual":  # organisations: shared domain, payment and network
        org_of = _org_sizes(
            rng, n, {"startup": 2, "enterprise": 12, "education": 40, "research": 8, "reseller": 1}[acct_type]
        )
        n_org = int(org_of.max()) + 1
        org_ids = book.new_entities(n_org)
        kind = {"education": "university", "research": "research"}.get(acct_type, "company")
        org_domain = [identity.org_domain(seed * 7919 + int(o), kind) for o in org_ids]
        domains = [org_domain[o] for o in org_of]
        org_pay = book.new_entities(n_org)
        payment = np.where(rng.random(n) < 0.8, org_pay[org_of], payment)
        space = {
            "startup": "cloud",
            "enterprise": "corporate",
            "education": "campus",
            "research": "campus",
            "reseller": "cloud",
        }[acct_type]
        pools = np.array([add_pool(book, space, seed, int(o), 6, by_size=space != "cloud") for o in org_ids])
        cols.update(
            org=org_ids[org_of],
            src1=SRC_POOL,
            arg1=pools[org_of],
            verified=rng.random(n) < 0.85,
            src2=SRC_HOME,
            arg2=rng.integers(5, 40, n),
            p_src2=np.where(rng.random(n) < 0.5, rng.uniform(0.1, 0.4, n), 0.0),
        )
        org_country = identity.countries(rng, n_org)
        country = org_country[org_of]
        cols["country"] = country
        tz = identity.tz_offsets(rng, org_country)[org_of]
    else:
        tz = identity.tz_offsets(rng, country)
        cols.update(_privacy(book, rng, n, seed))
    if acct_type == "reseller":
        cl = network.clients()
        cols.update(client1=rng.choice(cl.of_kind("gateway"), n), p_client2=0.0, key_n=rng.integers(3, 8, n))
    mixture = kind_mixtures(rng, base, n, copy_templates=0.08 if acct_type != "education" else 0.15)
    profile = book.add_profiles(mixture)
    machine = prof == "machine"  # a reseller's gateway: steady traffic in long runs
    session, dispersion = ((60.0, 2.0), 4.0) if machine else ((4.0, 45.0), 0.6)
    return make_people(
        book,
        rng,
        "benign",
        n,
        start_ms,
        days,
        prof,
        session,
        dispersion,
        w,
        profile,
        domains,
        locals_,
        tz,
        payment=payment,
        **cols,
    )


def _privacy(book: Book, rng: np.random.Generator, n: int, seed: int) -> dict[str, np.ndarray]:
    """A few people browse through a commercial VPN (three exits each) or Tor: datacenter-class addresses
    are not a campaign monopoly."""
    u = rng.random(n)
    vpn, tor = np.flatnonzero(u < 0.03), np.flatnonzero((u >= 0.03) & (u < 0.033))
    src1, arg1 = np.full(n, SRC_HOME, np.int8), rng.integers(5, 40, n)
    src1[vpn] = src1[tor] = SRC_POOL
    arg1[vpn] = [add_pool(book, "vpn", seed, int(k), 3, by_size=False) for k in book.new_entities(len(vpn))]
    arg1[tor] = add_pool(book, "tor", seed, 0, 400, by_size=False)
    return {"src1": src1, "arg1": arg1}


def _org_sizes(rng: np.random.Generator, n: int, mean: float) -> np.ndarray:
    """Organisation index per account (sorted), with geometric organisation sizes around `mean`."""
    sizes = []
    while sum(sizes) < n:
        sizes.append(int(rng.geometric(1.0 / mean)))
    sizes[-1] -= sum(sizes) - n
    return np.repeat(np.arange(len(sizes)), sizes)
