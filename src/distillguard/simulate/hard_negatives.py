"""Hard negatives: legitimate heavy users built to share campaign tells on purpose.

Each one looks like an attacker on one or more single axes, so a detector keying on any one axis pays for
it in false positives (DESIGN §1: "legitimate heavy users must stay untouched"):

- eval_company: benchmark prompts in templated harness wrappers ("think step by step"), machine-speed
  bursts from a handful of cloud addresses, one payment method over dozens of accounts, and a release-day
  run on the new model. What differs: one declared, verified organisation; broad benchmark content.
- coding_agent_platform: a few accounts carrying thousands of end users, one fixed system prompt, long tool
  loops, cloud egress, heavy volume, a switch of its default model three days after the release.
- university_nat: hundreds of students behind two NAT addresses, created in one week with patterned
  student-number e-mails on one domain, paying with the university's single payment method, pasting the
  same assignment prompts before each deadline.
- corporate_vpn: staff of one company behind a commercial VPN's egress addresses, synchronised office hours,
  one corporate card.
- synthetic_data: a customer generating classifier training data: one template at high volume, around the
  clock, from cloud machines.
- release_day_enthusiasts: ordinary users who move to the new model within hours of its release (the
  campaign-C tell) and send more than usual that day.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from distillguard.simulate import content, identity, network
from distillguard.simulate.network import ANTHROPIC, OPENAI
from distillguard.simulate.people import (
    DAY_MS,
    People,
    add_pool,
    created_times,
    habits,
    kind_mixtures,
    make_people,
    model_prefs,
    pick_clients,
)
from distillguard.simulate.world import (
    ACCOUNT_TYPES,
    ADOPT_ENTHUSIAST,
    ADOPT_EVAL,
    ADOPT_GRADUAL,
    ADOPT_PLATFORM,
    SRC_HOME,
    SRC_MOBILE,
    SRC_POOL,
    Book,
)

Builder = Callable[[Book, np.random.Generator, int, int, int, int, int], People]


def _org(book: Book, seed: int, kind: str) -> tuple[int, int, str]:
    org, pay = book.new_entities(2).tolist()
    return org, pay, identity.org_domain(seed * 7919 + org, kind)


def _newest(prefix: str, style: int) -> int:
    return int(network.clients().named(prefix, style)[-1])


def _service_locals(rng: np.random.Generator, n: int, stems: tuple[str, ...]) -> list[str]:
    return [f"{rng.choice(stems)}-{i}" if i else str(rng.choice(stems)) for i in range(n)]


def eval_company(
    book: Book, rng: np.random.Generator, n: int, seed: int, start_ms: int, days: int, release: int
) -> People:
    org, pay, domain = _org(book, seed, "company")
    pool = add_pool(book, "cloud:amazon", seed, org, 6)
    boost = {d: 3.0 for d in rng.choice(days, min(6, days), replace=False).tolist()} | {release: 5.0, release + 1: 2.5}
    cols = dict(
        acct_type=ACCOUNT_TYPES.index("enterprise"),
        org=org,
        payment=pay,
        country=identity.COUNTRY_CODES.index("US"),
        verified=True,
        client1=_newest("anthropic-python", ANTHROPIC),
        client2=_newest("openai-python", OPENAI),
        p_client2=0.3,
        src1=SRC_POOL,
        arg1=pool,
        p_src2=0.0,
        adopt=ADOPT_EVAL,
        model_cum0=0.45,
        model_cum1=0.8,
        p429=0.03,
        key_n=rng.integers(2, 5, n),
        p_blocks=0.0,
        fixed_mt=4096,
        created_ms=start_ms - (rng.uniform(30, 400, n) * DAY_MS).astype(np.int64),
    )
    profile = book.add_profiles(content.mixture(eval_bench=0.95, chat=0.05))[np.zeros(n, int)]
    return make_people(
        book,
        rng,
        "hard_negative:eval_company",
        n,
        start_ms,
        days,
        "machine",
        (400.0, 0.35),
        0.5,
        np.ones(n),
        profile,
        [domain] * n,
        _service_locals(rng, n, ("eval", "bench", "evals-ci")),
        np.full(n, -300),
        boost,
        **cols,
    )


def coding_agent_platform(
    book: Book, rng: np.random.Generator, n: int, seed: int, start_ms: int, days: int, release: int
) -> People:
    org, pay, domain = _org(book, seed, "company")
    pool = add_pool(book, "cloud:google", seed, org, 24)
    cols = dict(
        acct_type=ACCOUNT_TYPES.index("enterprise"),
        org=org,
        payment=pay,
        country=identity.COUNTRY_CODES.index("US"),
        verified=True,
        client1=_newest("anthropic-typescript", ANTHROPIC),
        client2=_newest("openai-node", OPENAI),
        p_client2=0.25,
        src1=SRC_POOL,
        arg1=pool,
        p_src2=0.0,
        adopt=ADOPT_PLATFORM,
        model_cum0=0.85,
        model_cum1=0.97,
        p429=0.02,
        key_n=4,
        end_users=5_000,
        p_blocks=1.0,
        created_ms=start_ms - (rng.uniform(60, 500, n) * DAY_MS).astype(np.int64),
    )
    profile = book.add_profiles(content.mixture(platform_agent=0.92, dev_code=0.08))[np.zeros(n, int)]
    tz = np.where(np.arange(n) % 2 == 0, -300, 60)  # US and EU regions of the platform
    return make_people(
        book,
        rng,
        "hard_negative:coding_agent_platform",
        n,
        start_ms,
        days,
        "work",
        (8.0, 20.0),
        20.0,
        np.ones(n),
        profile,
        [domain] * n,
        _service_locals(rng, n, ("platform-prod", "platform-eu", "api")),
        tz,
        **cols,
    )


def university_nat(
    book: Book, rng: np.random.Generator, n: int, seed: int, start_ms: int, days: int, release: int
) -> People:
    org, pay, domain = _org(book, seed, "university")
    nat = add_pool(book, "campus", seed, org, 2)
    semester = start_ms - 20 * DAY_MS
    numbers = rng.choice(np.arange(2_400_000, 2_499_999), n, replace=False)
    people = identity.person_locals(rng, n)
    locals_ = [
        f"s{k}" if u < 0.7 else p for k, u, p in zip(numbers.tolist(), rng.random(n).tolist(), people, strict=True)
    ]
    deadlines = {d: 2.5 for d in range(6, days, 7)} | {d + 1: 0.6 for d in range(6, days, 7)}
    cols = dict(
        acct_type=ACCOUNT_TYPES.index("education"),
        org=org,
        payment=pay,
        country=identity.COUNTRY_CODES.index("GB"),
        verified=True,
        **pick_clients(rng, n, 0.8),
        **model_prefs(rng, n),
        **habits(rng, n),
        adopt=ADOPT_GRADUAL,
        adopt_max=0.2,
        src1=SRC_POOL,
        arg1=nat,
        src2=SRC_HOME,
        arg2=rng.integers(5, 40, n),
        p_src2=0.15,
        p429=0.002,
        created_ms=semester + (rng.random(n) * 4 * DAY_MS).astype(np.int64),
    )
    mix = content.mixture(assignment=0.55, chat=0.3, dev_code=0.15)
    profile = book.add_profiles(mix)[np.zeros(n, int)]
    return make_people(
        book,
        rng,
        "hard_negative:university_nat",
        n,
        start_ms,
        days,
        "student",
        (5.0, 60.0),
        0.8,
        rng.lognormal(0, 0.8, n),
        profile,
        [domain] * n,
        locals_,
        np.zeros(n, int),
        deadlines,
        **cols,
    )


def corporate_vpn(
    book: Book, rng: np.random.Generator, n: int, seed: int, start_ms: int, days: int, release: int
) -> People:
    org, pay, domain = _org(book, seed, "company")
    egress = add_pool(book, "vpn", seed, org, 6, by_size=False)
    cols = dict(
        acct_type=ACCOUNT_TYPES.index("enterprise"),
        org=org,
        payment=pay,
        country=identity.COUNTRY_CODES.index("DE"),
        verified=True,
        **pick_clients(rng, n, 0.5),
        **model_prefs(rng, n),
        **habits(rng, n),
        adopt=ADOPT_GRADUAL,
        adopt_max=rng.beta(1.5, 3, n),
        src1=SRC_POOL,
        arg1=egress,
        src2=SRC_HOME,
        arg2=rng.integers(5, 40, n),
        p_src2=0.1,
        p429=0.002,
        created_ms=created_times(rng, n, start_ms, days, new_share=0.02),
    )
    profile = book.add_profiles(kind_mixtures(rng, (0.3, 0.05, 0.25, 0.1, 0.05, 0.25), n, 0.05))
    return make_people(
        book,
        rng,
        "hard_negative:corporate_vpn",
        n,
        start_ms,
        days,
        "work",
        (4.0, 50.0),
        0.7,
        rng.lognormal(0, 1.0, n),
        profile,
        [domain] * n,
        identity.person_locals(rng, n),
        np.full(n, 60),
        **cols,
    )


def synthetic_data(
    book: Book, rng: np.random.Generator, n: int, seed: int, start_ms: int, days: int, release: int
) -> People:
    org, pay, domain = _org(book, seed, "company")
    pool = add_pool(book, "cloud:microsoft", seed, org, 3)
    cols = dict(
        acct_type=ACCOUNT_TYPES.index("startup"),
        org=org,
        payment=pay,
        country=identity.COUNTRY_CODES.index("US"),
        verified=True,
        client1=_newest("openai-python", OPENAI),
        p_client2=0.0,
        src1=SRC_POOL,
        arg1=pool,
        fixed_mt=4096,
        p_src2=0.0,
        adopt=ADOPT_GRADUAL,
        adopt_max=0.0,
        model_cum0=0.2,
        model_cum1=1.0,
        p429=0.05,
        p_blocks=0.0,
        created_ms=start_ms - (rng.uniform(100, 300, n) * DAY_MS).astype(np.int64),
    )
    profile = book.add_profiles(content.mixture(synth_gen=0.97, chat=0.03))[np.zeros(n, int)]
    return make_people(
        book,
        rng,
        "hard_negative:synthetic_data",
        n,
        start_ms,
        days,
        "machine",
        (500.0, 1.2),
        3.0,
        np.ones(n),
        profile,
        [domain] * n,
        _service_locals(rng, n, ("ml-data", "datagen")),
        np.full(n, -480),
        **cols,
    )


def release_day_enthusiasts(
    book: Book, rng: np.random.Generator, n: int, seed: int, start_ms: int, days: int, release: int
) -> People:
    country = identity.countries(rng, n)
    cols = dict(
        acct_type=ACCOUNT_TYPES.index("individual"),
        country=country,
        verified=rng.random(n) < 0.7,
        payment=book.new_entities(n),
        **pick_clients(rng, n, 0.4),
        **model_prefs(rng, n),
        **habits(rng, n),
        adopt=ADOPT_ENTHUSIAST,
        src1=SRC_HOME,
        arg1=rng.integers(5, 40, n),
        src2=SRC_MOBILE,
        arg2=rng.integers(0, 12, n),
        p_src2=0.25,
        p429=0.004,
    )
    profile = book.add_profiles(kind_mixtures(rng, (0.35, 0.05, 0.35, 0.05, 0.1, 0.1), n, 0.1))
    return make_people(
        book,
        rng,
        "hard_negative:release_day_enthusiasts",
        n,
        start_ms,
        days,
        "personal",
        (5.0, 40.0),
        0.7,
        rng.lognormal(0, 1.0, n),
        profile,
        identity.consumer_domains(rng, n),
        identity.person_locals(rng, n),
        identity.tz_offsets(rng, country),
        {release: 3.0, release + 1: 2.0},
        **cols,
    )


BUILDERS: dict[str, Builder] = {
    "eval_company": eval_company,
    "coding_agent_platform": coding_agent_platform,
    "university_nat": university_nat,
    "corporate_vpn": corporate_vpn,
    "synthetic_data": synthetic_data,
    "release_day_enthusiasts": release_day_enthusiasts,
}
