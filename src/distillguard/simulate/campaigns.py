"""Distillation campaigns (DESIGN §1 archetypes A, B, C) operated as cells of linked accounts.

A campaign runs *cells*: groups of accounts opened together and driven by one script through one proxy
pool and one load balancer. Within a cell, the tells are: accounts created in a burst with one e-mail
pattern, a few shared payment methods, one client fingerprint, one rotating proxy pool (datacenter, VPN and
residential exits), requests dealt round-robin around the clock, the same templated system prompts (test-
split wording), a narrow capability mixture and high volume. Across a campaign's cells the template wording
and capability mixture repeat. Campaign C runs through a hydra reseller network: every C cell shares the
reseller's proxy network and gateway, and the reseller mixes unrelated customers' ordinary requests into the
same accounts. C moves about half its traffic to the new model within 24 h of the release.

Each evasion knob (``scenarios.KNOBS``) removes exactly one group of tells, per cell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from distillguard.simulate import content, identity, network, templates, timing
from distillguard.simulate.people import DAY_MS, created_times, pick_clients
from distillguard.simulate.scenarios import ALL_KNOBS, CampaignSpec, Scenario, scaled
from distillguard.simulate.world import (
    ACCOUNT_TYPES,
    ADOPT_FAST,
    ADOPT_SHIFT,
    SRC_CELL,
    SRC_HYDRA,
    SRC_ROTATE,
    Block,
    Book,
)


@dataclass(frozen=True)
class Archetype:
    pathways: dict[str, float]  # account type -> share of cells opened through that pathway
    proxies: dict[str, float]  # cell proxy pool mix over world.CELL_CLASSES (unused through the hydra)
    kinds: dict[str, float]  # capability mixture
    late_kinds: dict[str, float] | None  # mixture after `late_day` (B starts reconstructing reasoning traces)
    clients: tuple[str, ...]  # user-agent prefixes the operator's scripts use
    adopt: tuple[int, float]
    max_tokens: tuple[int, ...]
    hydra: bool = False
    late_day: int = 12


ARCHETYPES = {
    "A": Archetype(
        {"individual": 0.7, "startup": 0.3},
        {"datacenter": 0.4, "vpn": 0.35, "residential": 0.2, "tor": 0.05},
        {"cot": 0.45, "rubric": 0.25, "censorship": 0.2, "analyst_cot": 0.1},
        None,
        ("anthropic-python",),
        (ADOPT_FAST, 0.4),
        (8192, 16000, 32000),
    ),
    "B": Archetype(
        {"education": 0.25, "startup": 0.25, "research": 0.15, "individual": 0.25, "reseller": 0.1},
        {"datacenter": 0.5, "vpn": 0.2, "residential": 0.3},
        {"agentic_tools": 0.2, "agentic_text": 0.15, "coding_cot": 0.2, "analyst_cot": 0.2, "computer_use": 0.25},
        {
            "agentic_tools": 0.15,
            "agentic_text": 0.1,
            "coding_cot": 0.15,
            "analyst_cot": 0.15,
            "computer_use": 0.15,
            "reasoning_reconstruction": 0.3,
        },
        ("anthropic-python", "openai-python", "anthropic-typescript", "python-requests"),
        (ADOPT_FAST, 0.3),
        (8192, 16000),
    ),
    "C": Archetype(
        {"individual": 0.6, "startup": 0.3, "reseller": 0.1},
        {},
        {"c_agentic_coding": 0.6, "c_orchestration": 0.2, "agentic_tools": 0.2},
        None,
        ("Go-http-client/2", "litellm"),
        (ADOPT_SHIFT, 0.5),
        (16000, 8192, 32000),
        hydra=True,
    ),
}
CUSTOMER_MIX = {"chat": 0.5, "dev_code": 0.25, "analysis": 0.15, "tool_app": 0.1}  # a reseller's other customers


class VariantStream:
    """Hands out system-prompt renderings never handed out before (per family), so paraphrasing cells get
    wording no other campaign account uses."""

    def __init__(self, split: str) -> None:
        self.split = split
        self.next = {f: 1 for f in templates.FAMILY_NAMES}
        self.seen: dict[str, set[str]] = {f: set() for f in templates.FAMILY_NAMES}

    def take(self, family: str, n: int) -> list[str]:
        out: list[str] = []
        tries = 0
        while len(out) < n:
            text = templates.render(family, self.split, self.next[family])
            self.next[family] += 1
            tries += 1
            if text not in self.seen[family]:
                self.seen[family].add(text)
                out.append(text)
            elif tries > 50 * n + 1000:
                raise ValueError(f"family {family!r} has run out of distinct {self.split} renderings")
        return out


@dataclass
class Cells:
    """One campaign's cells and how to generate a day of their traffic."""

    spec: CampaignSpec
    first: np.ndarray  # global index of each cell's first account
    size: np.ndarray
    start_day: np.ndarray
    end_day: np.ndarray  # exclusive
    daily: np.ndarray  # expected requests per active day through the cell's accounts (harvest + customers)
    mixing: np.ndarray  # customers' share of that
    balanced: np.ndarray  # True: load balancer; False: human_timing
    hours: np.ndarray  # (cells, 24) UTC hours the load balancer runs
    cap: np.ndarray  # per-account daily cap (0: none)
    profile: np.ndarray  # harvest mixture id (early, late)
    customer_profile: int
    late_day: int
    tz: np.ndarray  # per account, in cell order
    acct_start: np.ndarray  # first day each account is used
    acct_end: np.ndarray  # day each account is retired (banned or rotated out), exclusive
    role: str = "campaign"

    @property
    def span(self) -> slice:
        return slice(int(self.first[0]), int(self.first[-1] + self.size[-1]))

    @property
    def expected(self) -> float:
        return float((self.daily * (self.end_day - self.start_day)).sum())

    @property
    def expected_harvest(self) -> float:
        return float((self.daily * (1 - self.mixing) * (self.end_day - self.start_day)).sum())

    def daily_rate(self) -> np.ndarray:
        return np.repeat(self.daily / self.size, self.size)

    def day(self, d: int, start_ms: int, rng: np.random.Generator) -> Block:
        day_ms = start_ms + d * DAY_MS
        cell_of = np.repeat(np.arange(len(self.size)), self.size)
        on = (self.start_day <= d) & (d < self.end_day)
        live = np.flatnonzero((self.acct_start <= d) & (d < self.acct_end) & on[cell_of])  # accounts in use today
        n_live = np.bincount(cell_of[live], minlength=len(self.size))
        first_live = np.cumsum(n_live) - n_live
        on &= n_live > 0
        harvest = np.where(on, self.daily * (1 - self.mixing), 0.0)
        counts = np.where(on & self.balanced, rng.poisson(harvest), 0)
        counts = np.minimum(counts, np.where(self.cap > 0, self.cap * n_live, counts))
        idx, ts = timing.balanced(rng, day_ms, counts, self.hours, first_live, n_live)
        blocks = [(live[idx], ts, True)]
        human = on & ~self.balanced
        if human.any():
            per_acct = np.zeros(len(cell_of))
            per_acct[live] = np.where(human, harvest / np.maximum(n_live, 1), 0.0)[cell_of[live]]
            lam = per_acct * timing.weekday_factor("work", day_ms, self.tz) * rng.gamma(4.0, 0.25, len(per_acct))
            acc, ts = timing.sessions(rng, day_ms, rng.poisson(lam), self.tz, "work", 6.0, 40.0)
            blocks.append((acc, ts, True))
        mix = rng.poisson(np.where(on, self.daily * self.mixing, 0.0))
        if mix.sum():  # the reseller's other customers, on whichever account the reseller picks
            cell = np.repeat(np.arange(len(mix)), mix)
            acc = live[first_live[cell] + (rng.random(len(cell)) * n_live[cell]).astype(np.int64)]
            ctz = rng.choice([-300, 60, 480], len(cell))  # customers around the world
            _, ts = timing.sessions(rng, day_ms, np.ones(len(cell), np.int64), ctz, "personal", 1.0, 1.0)
            blocks.append((acc, ts, False))
        acc = np.concatenate([b[0] for b in blocks]).astype(np.int64)
        ts = np.concatenate([b[1] for b in blocks])
        harvest_flag = np.concatenate([np.full(len(b[0]), b[2]) for b in blocks])
        acc, ts, harvest_flag = _apply_cap(acc, ts, harvest_flag, self.cap[cell_of])
        prof = np.where(harvest_flag, self.profile[int(d >= self.late_day)], self.customer_profile)
        return Block(self.first[0] + acc, ts, harvest_flag, prof.astype(np.int32))


def _apply_cap(acc: np.ndarray, ts: np.ndarray, flag: np.ndarray, cap: np.ndarray) -> tuple[np.ndarray, ...]:
    """Drop each account's requests beyond its daily cap (0 = no cap), keeping the earliest."""
    if not (cap > 0).any():
        return acc, ts, flag
    order = np.lexsort((ts, acc))
    acc, ts, flag = acc[order], ts[order], flag[order]
    rank = np.arange(len(acc)) - np.searchsorted(acc, acc, side="left")
    keep = (cap[acc] == 0) | (rank < cap[acc])
    return acc[keep], ts[keep], flag[keep]


# ---------------------------------------------------------------------------------------------- builder


def build(
    book: Book, tables: content.Tables, sc: Scenario, scale: float, seed: int, infra_seed: int | None = None
) -> list[Cells]:
    """Register every campaign account; return one Cells per campaign.

    ``infra_seed`` (None: drawn with everything else from ``seed``) gives each campaign's client choices their
    own random stream, so two runs with different seeds and one infra seed share an actor's clients.
    """
    start_ms = int(sc.start.timestamp() * 1000)
    stream = VariantStream(tables.split)
    rotation = [0]  # next residential-rotation rank, shared so no two accounts ever share an exit
    return [
        _campaign(book, tables, sc, spec, k, scale, seed, start_ms, stream, rotation, infra_seed)
        for k, spec in enumerate(sc.campaigns)
    ]


def _campaign(
    book: Book,
    tables: content.Tables,
    sc: Scenario,
    spec: CampaignSpec,
    k: int,
    scale: float,
    seed: int,
    start_ms: int,
    stream: VariantStream,
    rotation: list[int],
    infra_seed: int | None = None,
) -> Cells:
    rng = np.random.default_rng([seed, 0xCA, k])
    infra = rng if infra_seed is None else np.random.default_rng([infra_seed, 0xCA, k])  # the actor's clients
    arch = ARCHETYPES[spec.archetype]
    n = scaled(spec.accounts, scale, spec.min_accounts)
    total = spec.requests * scale
    ev = sc.evasion
    # per-cell knobs need a cell for each knob (and one without) to give a per-knob breakdown at any scale
    n_cells = min(max(2, round(n / spec.cell_size), ev.cell_types(arch.hydra)), max(2, n // 2))
    sizes = np.diff(np.linspace(0, n, n_cells + 1).round().astype(int))
    kinds = {**arch.kinds, **(arch.late_kinds or {})}
    families = sorted({content.KINDS[content.KIND_INDEX[name]].family for name in kinds})
    script = {f: stream.take(f, 2) for f in families}  # the campaign's own wording, shared by its cells
    profiles = book.add_profiles(
        np.stack([content.mixture(**arch.kinds), content.mixture(**(arch.late_kinds or arch.kinds))])
    )
    customers = int(book.add_profiles(content.mixture(**CUSTOMER_MIX))[0])
    gateway = _old_client(infra, arch.clients)
    cells: dict[str, list] = {
        k_: []
        for k_ in ("first", "size", "start", "end", "daily", "mix", "lb", "hours", "cap", "tz", "a_start", "a_end")
    }
    for i, base_size in enumerate(sizes.tolist()):
        knobs = ev.for_cell(i, arch.hydra)
        start = int(rng.integers(0, 4))
        end = sc.days if rng.random() < 0.75 else int(rng.integers(min(start + 10, sc.days), sc.days + 1))
        requests = total * base_size / n
        m = base_size
        if "slow_and_low" in knobs:
            m = max(m, math.ceil(requests / (max(end - start, 1) * 0.6 * ev.daily_cap)))
        mixing = ev.mixing(knobs) if arch.hydra else 0.0
        cols = _identities(book, rng, arch, m, knobs, seed, start_ms + start * DAY_MS)
        cols["camp_rank"] = _templates(book, tables, stream, script, families, rng, m, i, knobs)
        cols["client1"] = gateway if arch.hydra else _old_client(infra, arch.clients)
        if "fingerprint_diversity" in knobs:
            cols.update(pick_clients(rng, m, 0.15))
        if "residential_rotation" in knobs:
            cols["src1"], cols["rot_rank"] = SRC_ROTATE, np.arange(rotation[0], rotation[0] + m)
            rotation[0] += m
        elif arch.hydra:
            cols["src1"], cols["arg1"] = SRC_HYDRA, 0
        else:
            cols["src1"], cols["arg1"] = SRC_CELL, book.add_cell(arch.proxies)
        tz = cols["tz"]
        span = book.add(
            m,
            "campaign",
            cols.pop("domains"),
            cols.pop("locals"),
            campaign=k,
            cell=i,
            mixing=mixing,
            knobs=sum(1 << ALL_KNOBS.index(x) for x in knobs),
            adopt=arch.adopt[0],
            adopt_max=arch.adopt[1],
            fixed_mt=int(rng.choice(arch.max_tokens)),
            p_blocks=float(rng.random() < 0.3),
            key_n=rng.choice([1, 2], m, p=[0.85, 0.15]),
            model_cum0=0.93,
            model_cum1=0.99,
            p_src2=0.0,
            **cols,
        )
        # accounts join after the cell starts and some are retired early: uneven volumes, as in real fleets
        life = end - start
        a_start = np.where(rng.random(m) < 0.6, start, start + (rng.random(m) * 0.3 * life).astype(int))
        a_end = np.where(rng.random(m) < 0.7, end, a_start + np.ceil((0.5 + 0.5 * rng.random(m)) * (end - a_start)))
        a_start[0], a_end[0] = start, end  # the cell never runs out of accounts
        hours = np.ones(24, bool)
        hours[(int(rng.integers(24)) + np.arange(int(rng.integers(0, 4)))) % 24] = False  # maintenance gap
        for key, value in (
            ("first", span.start),
            ("size", m),
            ("start", start),
            ("end", end),
            ("daily", requests / max(end - start, 1)),
            ("mix", mixing),
            ("lb", "human_timing" not in knobs),
            ("hours", hours),
            ("cap", ev.daily_cap if "slow_and_low" in knobs else 0),
            ("tz", tz),
            ("a_start", a_start),
            ("a_end", a_end.astype(int)),
        ):
            cells[key].append(value)
    return Cells(
        spec,
        np.array(cells["first"]),
        np.array(cells["size"]),
        np.array(cells["start"]),
        np.array(cells["end"]),
        np.array(cells["daily"]),
        np.array(cells["mix"]),
        np.array(cells["lb"]),
        np.stack(cells["hours"]),
        np.array(cells["cap"]),
        profiles,
        customers,
        arch.late_day if arch.late_kinds else sc.days + 1,
        np.concatenate(cells["tz"]),
        np.concatenate(cells["a_start"]),
        np.concatenate(cells["a_end"]),
    )


def _old_client(rng: np.random.Generator, prefixes: tuple[str, ...]) -> int:
    """An operator's script pins an older client version: common stack, less common exact version."""
    rows = network.clients().named(str(rng.choice(prefixes)))
    return int(rng.choice(rows[: max(1, len(rows) // 2)]))


def _identities(
    book: Book,
    rng: np.random.Generator,
    arch: Archetype,
    m: int,
    knobs: frozenset[str],
    seed: int,
    cell_start_ms: int,
) -> dict:
    """Sign-up data for one cell: one pathway, one e-mail script, a burst of sign-ups, shared cards."""
    pathway = str(rng.choice(list(arch.pathways), p=np.array(list(arch.pathways.values()))))
    country = identity.countries(rng, m, identity.CAMPAIGN_COUNTRIES)
    org = np.full(m, -1, dtype=np.int64)
    if pathway in ("startup", "research"):  # one (new) organisation per account
        org = book.new_entities(m)
    elif pathway == "education":  # two claimed universities per cell
        org = book.new_entities(2)[rng.integers(0, 2, m)]
    elif pathway == "reseller":
        org = np.repeat(book.new_entities(1), m)
    kind = {"education": "university", "research": "research"}.get(pathway, "company")
    if "staggered_signups" in knobs:  # aged accounts with ordinary-looking addresses
        created = created_times(rng, m, cell_start_ms, 0, new_share=0.0)
        locals_ = identity.person_locals(rng, m)
        domains = identity.consumer_domains(rng, m) if pathway == "individual" else []
    else:
        signup = cell_start_ms - int(rng.uniform(1, 4) * DAY_MS)
        created = signup + (rng.random(m) * 8 * 3_600_000).astype(np.int64)
        locals_ = identity.patterned_locals(rng, m)
        domains = (
            [str(rng.choice(["gmail.com", "outlook.com", "proton.me", "hotmail.com"]))] * m
            if pathway == "individual"
            else []
        )
    if pathway != "individual":
        domains = [identity.org_domain(seed * 7919 + int(o), kind) for o in org]
    if "no_shared_payment" in knobs:
        payment = book.new_entities(m)
    else:  # most accounts pay with one of a few cards, the rest with their own
        cards = book.new_entities(max(1, round(m * 0.6 / 10)))
        payment = np.where(rng.random(m) < 0.6, cards[rng.integers(0, len(cards), m)], book.new_entities(m))
    return {
        "domains": domains,
        "locals": locals_,
        "created_ms": created,
        "active_from": created,
        "acct_type": ACCOUNT_TYPES.index(pathway),
        "org": org,
        "payment": payment,
        "country": country,
        "tz": identity.tz_offsets(rng, country),
        "verified": (pathway == "education") | (rng.random(m) < 0.4),
    }


def _templates(
    book: Book,
    tables: content.Tables,
    stream: VariantStream,
    script: dict[str, list[str]],
    families: list[str],
    rng: np.random.Generator,
    m: int,
    cell_no: int,
    knobs: frozenset[str],
) -> np.ndarray:
    """System prompt and wrapper per (account, family): the campaign script, or one unique paraphrase each."""
    n_fam = len(templates.FAMILY_NAMES)
    sys = np.full((m, n_fam), -1, dtype=np.int32)
    wrap = np.full((m, n_fam), -1, dtype=np.int32)
    for f in families:
        j = content.FAMILY_INDEX[f]
        if "bare_tasks" in knobs:  # index 0 is "none" in both tables
            sys[:, j], wrap[:, j] = 0, 0
        elif "paraphrased_templates" in knobs:
            sys[:, j] = tables.add_systems(stream.take(f, m))  # wrappers stay -1: drawn per request
        else:
            sys[:, j] = tables.add_systems([script[f][cell_no % 2]])[0]
            options = tables.family_wraps[j]
            wrap[:, j] = options[int(rng.integers(len(options)))]
    return book.add_templates(sys, wrap)
