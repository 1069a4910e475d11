"""Train the account scorer on simulated traffic built from the TRAIN split only, and ship it.

    python scripts/train_scorer.py [--scale 0.01] [--seeds 101 102] [--out src/distillguard/data/models/scorer.json]

Evaluation seeds (1, 2, 3 in docs/quality.md) and the test split of prompts and template wordings are never
seen here. Each training scenario is simulated with `split="train"`, ingested into a fresh store, taken
through detection stages 1-3, and its accounts labelled from truth.jsonl (role "campaign" = 1).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import orjson

from distillguard.detect.pipeline import DetectionSettings, link
from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.scoring.features import build_features
from distillguard.scoring.scorer import AccountScorer
from distillguard.signals.registry import load
from distillguard.simulate import simulate
from distillguard.store.ingest import ingest

# standard+bare_tasks: harvests that ask for no written-out reasoning, so the scorer cannot rest on
# chain-of-thought share alone. large-orgs-xl: evaluation companies and agent platforms at full size, which
# repeat their prompts as a resampling harvester does, so that repetition need not vouch for them
# (docs/quality.md, "Harvests that do not ask for reasoning").
TRAIN_SCENARIOS = (
    "standard",
    "evasive",
    "ablation",
    "benign-only",
    "large-orgs",
    "large-orgs-xl",
    "standard+bare_tasks",
)


def training_matrix(scenario: str, scale: float, seed: int, work: Path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    out = work / f"{scenario}-{seed}"
    simulate(scenario, scale, seed, out, split="train")
    with DuckDBAPI(out / "store.duckdb") as db:
        ingest(db, [out / "logs.jsonl"], accounts=[out / "accounts.jsonl"])
        link(db, DetectionSettings(), lambda name: None)
        ids, x, names = build_features(db, [cls.name for cls in load()[0]])
    roles = {}
    for line in (out / "truth.jsonl").read_bytes().splitlines():
        row = orjson.loads(line)
        roles[row["account_id"]] = row["role"]
    y = np.array([1 if roles.get(a) == "campaign" else 0 for a in ids])
    print(f"{scenario} seed {seed}: {len(ids):,} accounts, {int(y.sum()):,} campaign")
    return x, y, names


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--seeds", type=int, nargs="+", default=[101, 102])
    ap.add_argument("--out", type=Path, default=Path("src/distillguard/data/models/scorer.json"))
    args = ap.parse_args()
    xs, ys, names = [], [], None
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            for scenario in TRAIN_SCENARIOS:
                x, y, names = training_matrix(scenario, args.scale, seed, Path(tmp))
                xs.append(x)
                ys.append(y)
    scorer = AccountScorer().fit(np.vstack(xs), np.concatenate(ys), names)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    scorer.save(args.out)
    order = np.argsort(-np.abs(scorer.coef_))
    print(f"threshold {scorer.threshold_:.3f}; strongest features:")
    for j in order[:12]:
        print(f"  {scorer.feature_names_[j]:40s} {scorer.coef_[j]:+.3f}")


if __name__ == "__main__":
    main()
