"""Simulated scenarios shared by the simulator tests (each run once per session, at tiny scale)."""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from distillguard.simulate import SimulationSummary, simulate

SCALE = 0.002  # checks of volumes and shares
SMALL = 0.001  # checks that only need every population present


@dataclass
class Run:
    summary: SimulationSummary
    out: Path

    @functools.cached_property
    def lines(self) -> list[bytes]:
        return (self.out / "logs.jsonl").read_bytes().splitlines()

    @functools.cached_property
    def logs(self) -> list[dict]:
        """Every request without its body and response (parsing those dominates test time)."""
        return [orjson.loads(line[: line.index(b',"request":')] + b"}") for line in self.lines]

    @functools.cached_property
    def full(self) -> list[dict]:
        return [orjson.loads(line) for line in self.lines]

    def body(self, i: int) -> dict:
        return orjson.loads(self.lines[i])["request"]

    @functools.cached_property
    def truth(self) -> dict[str, dict]:
        return {r["account_id"]: r for r in map(orjson.loads, (self.out / "truth.jsonl").read_bytes().splitlines())}

    @functools.cached_property
    def accounts(self) -> dict[str, dict]:
        rows = map(orjson.loads, (self.out / "accounts.jsonl").read_bytes().splitlines())
        return {r["account_id"]: r for r in rows}

    def campaign_rows(self, harvest_only: bool = False) -> list[int]:
        """Indexes of campaign accounts' requests (harvest_only: accounts that carry no customer traffic)."""
        t = self.truth
        return [
            i
            for i, r in enumerate(self.logs)
            if t[r["account_id"]]["role"] == "campaign"
            and (not harvest_only or t[r["account_id"]]["mixing_ratio"] == 0)
        ]

    def campaign_logs(self) -> list[dict]:
        return [self.logs[i] for i in self.campaign_rows()]

    def by_cell(self) -> dict[str, list[str]]:
        cells: dict[str, list[str]] = defaultdict(list)
        for a, t in self.truth.items():
            if t["cell_id"]:
                cells[t["cell_id"]].append(a)
        return cells


class Runs:
    """Lazily simulated scenarios, keyed by (scenario, format, seed)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._runs: dict[tuple, Run] = {}

    def get(self, scenario: str = "standard", fmt: str = "jsonl", seed: int = 1, scale: float = SCALE) -> Run:
        key = (scenario, fmt, seed, scale)
        if key not in self._runs:
            out = self.root / f"{scenario}-{fmt}-{seed}-{scale}"
            self._runs[key] = Run(simulate(scenario, scale, seed, out, fmt), out)
        return self._runs[key]


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    return Runs(tmp_path_factory.mktemp("sim"))


@pytest.fixture(scope="session")
def standard(runs: Runs) -> Run:
    return runs.get("standard")


@pytest.fixture(scope="session")
def small(runs: Runs) -> Run:
    return runs.get("standard", scale=SMALL)
