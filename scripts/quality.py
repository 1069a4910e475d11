"""Detection quality on held-out simulations: scenarios x seeds, TEST split of prompts and template wordings.

    python scripts/quality.py [--scale 0.01] [--seeds 1 2 3] [--scenarios standard evasive benign-only ablation]

For each scenario and seed: simulate (split="test"; the shipped scorer was trained on seeds 101-102 and the
TRAIN split), ingest, detect, evaluate against truth.jsonl. Prints one markdown table row per run plus the
per-role and per-knob breakdowns, ready for docs/quality.md; writes every evaluation JSON next to it.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from distillguard.detect.outputs import write_outputs
from distillguard.detect.pipeline import detect
from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.evaluate import evaluate
from distillguard.simulate import simulate
from distillguard.store.ingest import ingest


def run(scenario: str, scale: float, seed: int, work: Path) -> dict:
    out = work / f"{scenario}-{seed}"
    t0 = time.perf_counter()
    simulate(scenario, scale, seed, out)
    with DuckDBAPI(out / "store.duckdb") as db:
        ingest(db, [out / "logs.jsonl"], accounts=[out / "accounts.jsonl"])
        detect(db)
        write_outputs(db, out / "detections")
    result = evaluate(out / "truth.jsonl", out / "detections").to_json()
    result["seconds"] = round(time.perf_counter() - t0, 1)
    return result


def fmt(x: float | None) -> str:
    return "—" if x is None else f"{x:.4f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--scenarios", nargs="+", default=["standard", "evasive", "benign-only", "ablation"])
    ap.add_argument("--json", type=Path, default=Path("quality-runs.json"))
    args = ap.parse_args()
    results = {}
    print(
        "| scenario | seed | account recall | precision | benign FPR | request recall | purity | completeness | "
        "campaigns found / reported | worst hard-negative FPR |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for scenario in args.scenarios:
            for seed in args.seeds:
                r = run(scenario, args.scale, seed, Path(tmp))
                results[f"{scenario}/{seed}"] = r
                hard = [x for x in r["by_role"] if str(x.get("role", "")).startswith("hard_negative")]
                worst = max(hard, key=lambda x: x.get("rate") or 0, default=None)
                worst_txt = f"{fmt(worst.get('rate'))} ({worst['role'].split(':')[1]})" if worst else "—"
                print(
                    f"| {scenario} | {seed} | {fmt(r['account_recall'])} | {fmt(r['account_precision'])} | "
                    f"{fmt(r['benign_fpr'])} | {fmt(r['request_recall'])} | {fmt(r['campaign_purity'])} | "
                    f"{fmt(r['campaign_completeness'])} | {r['campaigns_found']}/{r['campaigns_total']} / "
                    f"{len(r['clusters'])} | {worst_txt} |",
                    flush=True,
                )
                knobs = ", ".join(f"{k['knob']} {fmt(k['recall'])}" for k in r["by_knob"])
                if knobs and scenario != "standard":
                    print(f"|  | | recall by knob: {knobs} | | | | | | | |", flush=True)
    args.json.write_text(json.dumps(results, indent=1, default=str))
    print(f"\nall figures: {args.json}")


if __name__ == "__main__":
    main()
