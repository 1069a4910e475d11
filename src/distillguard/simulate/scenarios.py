"""Named scenarios: who is in the traffic, how much each sends, and which evasion knobs the campaigns use.

Why a table of plain dataclasses: the scenario is the experimental design the detector is judged on, so it
must be readable in one place and reproducible from its name. Volumes are given at ``scale=1.0`` (article
scale: 24,000 campaign accounts with 16M requests plus 200,000 benign accounts with 16M requests over
30 days). At another scale every population keeps its request *share*: requests scale linearly, accounts
scale linearly but never below ``min_accounts`` (so every role exists at ``scale=0.002``).

A scenario name may carry extra knobs: ``standard+human_timing+no_shared_payment`` is ``standard`` with
those two knobs switched on for every campaign cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

KNOBS = (
    "residential_rotation",  # every request from a fresh residential address; no IP shared by two accounts
    "paraphrased_templates",  # each account its own paraphrase of each system template (test-split wording)
    "slow_and_low",  # no account sends more than `daily_cap` (12) requests per UTC day (more accounts instead)
    "human_timing",  # per-account diurnal sessions in the account's time zone instead of a load balancer
    "no_shared_payment",  # one fresh payment fingerprint per account
    "fingerprint_diversity",  # user agent and TLS fingerprint drawn per account like benign developers'
    "staggered_signups",  # accounts aged over months, benign-looking e-mail addresses, no sign-up bursts
    "reseller_mixing",  # the hydra reseller mixes `heavy_mixing` instead of `base_mixing` customer traffic
)

# Knobs a scenario name may add that are not part of `evasive` (which the shipped scorer trains on): so adding
# one here leaves every existing scenario, and the scorer's training data, as they were.
EXTRA_KNOBS = (
    "bare_tasks",  # the tasks alone: no system prompt, no wrapper, so nothing asks for written-out reasoning
    "resampled_tasks",  # each task sent ~4 times (several answers per task, for rejection sampling)
)
ALL_KNOBS = (*KNOBS, *EXTRA_KNOBS)  # bit order of an account's knobs in the simulated world

HARD_NEGATIVE_KINDS = (
    "eval_company",
    "coding_agent_platform",
    "university_nat",
    "corporate_vpn",
    "synthetic_data",
    "release_day_enthusiasts",
)


@dataclass(frozen=True)
class Evasion:
    """Evasion knobs and their parameters. ``assignment`` "all" puts every knob on every campaign cell;
    "per_cell" gives each cell at most one knob, cycling through ``knobs`` plus one cell type with none, so one
    run yields a per-knob breakdown."""

    knobs: frozenset[str] = frozenset()
    assignment: str = "all"
    daily_cap: int = 12
    base_mixing: float = 0.2
    heavy_mixing: float = 0.6

    def __post_init__(self) -> None:
        unknown = set(self.knobs) - set(ALL_KNOBS)
        if unknown:
            raise ValueError(f"unknown evasion knob(s) {sorted(unknown)}; choose from {', '.join(ALL_KNOBS)}")
        if self.assignment not in ("all", "per_cell"):
            raise ValueError("assignment must be 'all' or 'per_cell'")

    def _usable(self, hydra: bool) -> list[str]:
        """Knobs that mean something for a campaign ("reseller_mixing" only through a reseller)."""
        return [k for k in ALL_KNOBS if k in self.knobs and (hydra or k != "reseller_mixing")]

    def cell_types(self, hydra: bool) -> int:
        """How many different knob settings the cells of one campaign take."""
        return 1 if self.assignment == "all" else 1 + len(self._usable(hydra))

    def for_cell(self, cell_no: int, hydra: bool) -> frozenset[str]:
        """The knobs active in one campaign cell (cells are numbered per campaign from 0)."""
        usable = self._usable(hydra)
        if self.assignment == "all":
            return frozenset(usable)
        options = [frozenset()] + [frozenset([k]) for k in usable]
        return options[cell_no % len(options)]

    def mixing(self, knobs: frozenset[str]) -> float:
        """Fraction of a hydra account's requests that are unrelated customers' ordinary traffic."""
        return self.heavy_mixing if "reseller_mixing" in knobs else self.base_mixing


@dataclass(frozen=True)
class Population:
    """A benign population or hard-negative kind: accounts and requests at scale 1.0."""

    accounts: int
    requests: int
    min_accounts: int = 2


@dataclass(frozen=True)
class CampaignSpec:
    """One distillation campaign. ``archetype`` selects behaviour (DESIGN §1): "A" reasoning, "B" agentic,
    "C" coding at scale through a hydra reseller network (its accounts carry unrelated customers' requests
    too; ``requests`` counts both)."""

    campaign_id: str
    actor: str
    archetype: str
    accounts: int
    requests: int
    cell_size: int
    min_accounts: int = 12


@dataclass(frozen=True)
class Scenario:
    """Everything that defines a simulated month of API traffic, except the seed and the scale."""

    name: str
    benign: Population
    hard_negatives: dict[str, Population]
    campaigns: tuple[CampaignSpec, ...]
    evasion: Evasion = field(default_factory=Evasion)
    days: int = 30
    start: datetime = datetime(2026, 2, 1, tzinfo=UTC)
    release_day: float = 15.5  # the new model ships this many days after `start`
    # Hard negatives sized as at this scale when it is larger than the run's: big legitimate organisations
    # (forty evaluation-company accounts) beside a small benign population, at a small run's cost.
    hard_negative_scale: float = 0.0

    def with_knobs(self, knobs: frozenset[str]) -> Scenario:
        """A copy with extra evasion knobs on every campaign cell."""
        return replace(self, evasion=replace(self.evasion, knobs=self.evasion.knobs | knobs))


def scaled(n: int, scale: float, minimum: int) -> int:
    """Accounts at a scale: linear, but at least `minimum` so every role exists at tiny scales."""
    return max(minimum, round(n * scale))


_BENIGN = Population(accounts=196_650, requests=11_550_000, min_accounts=60)
_HARD_NEGATIVES = {
    "eval_company": Population(40, 1_200_000, 3),
    "coding_agent_platform": Population(6, 1_500_000, 2),
    "university_nat": Population(400, 150_000, 12),
    "corporate_vpn": Population(300, 400_000, 10),
    "synthetic_data": Population(4, 800_000, 1),
    "release_day_enthusiasts": Population(2_600, 400_000, 10),
}
_STANDARD_CAMPAIGNS = (
    CampaignSpec("campaign-a", "A", "A", 600, 600_000, 25),
    CampaignSpec("campaign-b", "B", "B", 1_400, 3_400_000, 40, min_accounts=16),
    CampaignSpec("campaign-c", "C", "C", 22_000, 12_000_000, 200, min_accounts=40),
)
_ARTICLE_CAMPAIGNS = (
    CampaignSpec("campaign-a", "A", "A", 240, 150_000, 24),
    CampaignSpec("campaign-b", "B", "B", 760, 3_400_000, 40, min_accounts=16),
    CampaignSpec("campaign-c", "C", "C", 23_000, 12_450_000, 200, min_accounts=40),
)

# Two competitors after the same capability with the same playbook (archetype B), each with its own accounts,
# proxies and template wording: attribution must report them as two operations, not merge them on content.
_TWIN_CAMPAIGNS = (
    *_STANDARD_CAMPAIGNS[:2],
    replace(_STANDARD_CAMPAIGNS[1], campaign_id="campaign-b2", actor="B2"),
)

SCENARIOS: dict[str, Scenario] = {
    "standard": Scenario("standard", _BENIGN, _HARD_NEGATIVES, _STANDARD_CAMPAIGNS),
    "evasive": Scenario("evasive", _BENIGN, _HARD_NEGATIVES, _STANDARD_CAMPAIGNS, Evasion(knobs=frozenset(KNOBS))),
    "benign-only": Scenario("benign-only", _BENIGN, _HARD_NEGATIVES, ()),
    "article": Scenario("article", _BENIGN, _HARD_NEGATIVES, _ARTICLE_CAMPAIGNS),
    "large-orgs": Scenario("large-orgs", _BENIGN, _HARD_NEGATIVES, (), hard_negative_scale=0.25),
    # The legitimate heavy users at full size (forty evaluation-company seats at ~30k requests each) beside a
    # small benign population, at a small run's cost: the article-scale hard negatives, for training and checks.
    "large-orgs-xl": Scenario("large-orgs-xl", _BENIGN, _HARD_NEGATIVES, (), hard_negative_scale=1.0),
    "twin-competitors": Scenario("twin-competitors", _BENIGN, _HARD_NEGATIVES, _TWIN_CAMPAIGNS),
    "ablation": Scenario(
        "ablation",
        _BENIGN,
        _HARD_NEGATIVES,
        _STANDARD_CAMPAIGNS,
        Evasion(knobs=frozenset(KNOBS), assignment="per_cell"),
    ),
}


def get_scenario(spec: str) -> Scenario:
    """Resolve ``NAME[+knob...]`` to a Scenario; raise ValueError naming the valid choices."""
    name, *extra = spec.split("+")
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    scenario = SCENARIOS[name]
    if extra:  # Evasion rejects an unknown knob
        scenario = replace(scenario.with_knobs(frozenset(extra)), name=spec)
    return scenario
