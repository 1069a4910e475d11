"""Two simulated providers hit by the same actors' infrastructure (one infra seed, different seeds, so different
accounts and customers), each simulated, ingested and detected into a real DuckDB store once per session."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.engines.duckdb_api import DuckDBAPI

SCALE = "0.004"
INFRA_SEED = "5"
PARTNER_KEY = "key-shared-by-a-and-b"


@dataclass
class Provider:
    name: str
    sim: Path
    db: Path

    def truth(self) -> dict[str, dict]:
        lines = (self.sim / "truth.jsonl").read_bytes().splitlines()
        return {r["account_id"]: r for r in map(orjson.loads, lines)}

    def campaign_actor(self) -> dict[str, str]:
        """Our campaign id -> the simulator's actor for most of its accounts."""
        truth = self.truth()
        with DuckDBAPI(self.db, read_only=True) as db:
            members = db.query("SELECT campaign_id, account_id FROM campaign_members").to_pylist()
        votes: dict[str, dict[str, int]] = {}
        for m in members:
            actor = truth[m["account_id"]]["actor"] or "benign"
            votes.setdefault(m["campaign_id"], {}).setdefault(actor, 0)
            votes[m["campaign_id"]][actor] += 1
        return {c: max(v, key=v.__getitem__) for c, v in votes.items()}

    def copy(self, to: Path) -> Path:
        """A private copy of the store (a test that imports must not change what other tests read)."""
        shutil.copy(self.db, to)
        return to


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (args, result.output)
    return result.stdout


def _provider(root: Path, name: str, seed: str) -> Provider:
    sim, db = root / f"{name}-sim", root / f"{name}.duckdb"
    run("simulate", "--scale", SCALE, "--seed", seed, "--infra-seed", INFRA_SEED, "--out", str(sim))
    run("ingest", str(sim / "logs.jsonl"), "--accounts", str(sim / "accounts.jsonl"), "--db", str(db))
    run("detect", "--db", str(db), "--out", str(root / f"{name}-detections"))
    return Provider(name, sim, db)


@pytest.fixture(scope="session")
def providers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Provider]:
    root = tmp_path_factory.mktemp("providers")
    return {"a": _provider(root, "provider-a", "11"), "b": _provider(root, "provider-b", "23")}


@pytest.fixture(scope="session")
def exports(providers: dict[str, Provider], tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """Provider A's export of every campaign it found, as STIX and as MISP, keyed hashes under the shared key."""
    root = tmp_path_factory.mktemp("exports")
    out = {}
    for campaign in providers["a"].campaign_actor():
        for fmt in ("stix", "misp"):
            path = root / f"{campaign}.{fmt}.json"
            run(
                "export", "--campaign", campaign, "--format", fmt, "--tlp", "amber", "--db", str(providers["a"].db),
                "--out", str(path), "--provider", "provider-a", "--partner-key", PARTNER_KEY,
            )  # fmt: skip
            out[(campaign, fmt)] = path
    return out
