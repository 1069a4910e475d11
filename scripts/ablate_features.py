"""How much flagging leans on each signal: campaign accounts' features replaced by ordinary accounts' values.

    python scripts/ablate_features.py STORE TRUTH [--top 8]

For a store that `distillguard detect` has scored and the simulator's truth for it, rescores with the shipped
model after setting, for every campaign account, one signal (its own value and its cluster mean) to the median
of the benign accounts, and prints the campaign recall at the model's threshold: what recall would be for a
campaign that looks ordinary on that one signal and is unchanged on every other. The signals tried are the
model's strongest; "all but" rows keep only one signal. Ordinary accounts are not changed, so their flags are
as in the store. This is an upper bound on what a real campaign that changed that behaviour would keep: signals
move together (a harvest that stops asking for reasoning also writes shorter answers).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import orjson

from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.scoring.features import build_features
from distillguard.scoring.scorer import AccountScorer
from distillguard.signals.registry import load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("store", type=Path)
    ap.add_argument("truth", type=Path)
    ap.add_argument("--top", type=int, default=8, help="how many of the model's strongest signals to try")
    args = ap.parse_args()
    roles = {r["account_id"]: r["role"] for r in map(orjson.loads, args.truth.read_bytes().splitlines())}
    scorer = AccountScorer.load()
    signals, _ = load()
    with DuckDBAPI(args.store) as db:  # build_features rewrites account_features (to the same rows)
        ids, x, names = build_features(db, [cls.name for cls in signals])
    x = scorer.align(x, names)
    role = np.array([roles.get(a, "benign") for a in ids])
    campaign, benign = role == "campaign", role == "benign"
    features = scorer.feature_names_

    def recall(columns: list[int]) -> float:
        changed = x.copy()
        changed[np.ix_(campaign, columns)] = np.median(x[benign][:, columns], axis=0)
        return float((scorer.predict_proba(changed[campaign]) >= scorer.threshold_).mean())

    def columns_of(signal: str) -> list[int]:
        return [j for j, f in enumerate(features) if f in (signal, f"cluster_mean:{signal}")]

    strongest = []
    for j in np.argsort(-np.abs(scorer.coef_)):
        signal = features[j].removeprefix("cluster_mean:")
        if signal not in strongest and columns_of(signal):
            strongest.append(signal)
    strongest = strongest[: args.top]
    print(f"{int(campaign.sum())} campaign accounts, {int(benign.sum())} benign; threshold {scorer.threshold_:.2f}")
    print(f"{'signal made ordinary':45s} campaign recall")
    print(f"{'(none)':45s} {recall([]):.4f}")
    for signal in strongest:
        print(f"{signal:45s} {recall(columns_of(signal)):.4f}")
    for keep in strongest[:3]:
        others = [j for s in strongest if s != keep for j in columns_of(s)]
        print(f"{'all of these but ' + keep:45s} {recall(others):.4f}")


if __name__ == "__main__":
    main()
