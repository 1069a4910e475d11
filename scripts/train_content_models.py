"""Train the content classifiers on the TRAIN split, measure them on the TEST split, write the shipped models.

    python scripts/train_content_models.py                    # train, evaluate, write src/distillguard/data/models/
    python scripts/train_content_models.py --thresholds train # + account-level values per role on simulated traffic
    python scripts/train_content_models.py --speed 1000000    # + labelling speed of label_content on a DuckDB store

Training reads only `train_prompts()` (shipped corpora) and the train wording of the template families.
Evaluation reports, on the TEST split: CoT precision/recall overall and per source (test wording of every
family = paraphrases never seen), capability precision/recall per class, synthetic-marker firing rates, and
CoT recall on each family when that whole family is left out of training. When `shared/data` is present,
the non-redistributable corpora (never used for training) are an extra held-out check. Deterministic: the
same code writes the same model bytes.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.content.labeller import CAPABILITY_FILE, COT_FILE, ContentModels
from distillguard.content.models import CapabilityClassifier, CotElicitationClassifier
from distillguard.content.synthetic import SyntheticDataMarkers
from distillguard.content.training import (
    COT_SEEDS,
    FAMILY_CAPABILITY,
    FAMILY_POOLS,
    NEAR_MISS_SEEDS,
    QUESTION_SEEDS,
    RUBRIC_SEEDS,
    build_examples,
    examples_table,
    family_examples,
)
from distillguard.simulate.corpora import SHIPPABLE_LICENCES, load_prompts, prompts, train_prompts
from distillguard.simulate.templates import FAMILY_NAMES, slot_options, wrappers

OUT = Path(__file__).resolve().parents[1] / "src" / "distillguard" / "data" / "models"
SEED = 20260201
PER_FAMILY, PER_CORPUS = 2500, 2500  # training examples per template family / per corpus
TEST_PER_FAMILY, TEST_PER_CORPUS = 800, 800
COT_PARAMS = {"C": 1.0}
CAPABILITY_PARAMS = {"C": 0.5, "class_weight": "balanced", "max_iter": 300}


def check_seed_overlap() -> None:
    """The hand-written instructions must share no word 4-gram with the TEST-split template wording, or the
    test-split figures would measure them rather than generalisation."""

    def grams(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"[a-z0-9']+", text.lower())
        return {tuple(words[i : i + 4]) for i in range(len(words) - 3)}

    test = set()
    for family in FAMILY_NAMES:
        for option in [o for slot in slot_options(family, "test") for o in slot]:
            test |= grams(option)
        for part in [p for w in wrappers(family, "test") for p in w]:
            test |= grams(part)
    for text in (*COT_SEEDS, *NEAR_MISS_SEEDS, *RUBRIC_SEEDS, *(q for qs in QUESTION_SEEDS.values() for q in qs)):
        shared = grams(text) & test
        if shared:
            raise SystemExit(f"hand-written instruction shares test wording {sorted(shared)}: {text!r}")


def fit_cot(table: pa.Table) -> CotElicitationClassifier:
    labelled = table.filter(pc.is_valid(table["cot"]))
    return CotElicitationClassifier(**COT_PARAMS).fit(labelled, labelled["cot"].to_numpy())


def fit_capability(table: pa.Table) -> CapabilityClassifier:
    return CapabilityClassifier(**CAPABILITY_PARAMS).fit(table, np.array(table["capability"].to_pylist()))


def report_cot(model: CotElicitationClassifier, table: pa.Table, title: str) -> None:
    labelled = table.filter(pc.is_valid(table["cot"]))
    pred = model.predict_proba(labelled)[:, 1] >= 0.5
    y = labelled["cot"].to_numpy().astype(bool)
    source = np.array(labelled["source"].to_pylist())
    precision = (y[pred]).mean() if pred.any() else float("nan")
    print(f"\n## CoT elicitation: {title}")
    print(
        f"precision {precision:.4f}  recall {pred[y].mean():.4f}  (n={len(y)}, positives={y.sum()}, "
        f"benign corpus false-positive rate {pred[~y & np.char.startswith(source, 'corpus')].mean():.4f})"
    )
    print(f"{'source':40s} {'n':>6s} {'label':>5s} {'flagged':>8s}")
    for s in sorted(set(source)):
        sel = source == s
        print(f"{s:40s} {sel.sum():6d} {int(y[sel][0]):5d} {pred[sel].mean():8.3f}")


def report_capability(model: CapabilityClassifier, table: pa.Table, title: str) -> None:
    pred = model.predict(table)
    y = np.array(table["capability"].to_pylist())
    source = np.array(table["source"].to_pylist())
    print(f"\n## Capability: {title}")
    print(f"accuracy {(pred == y).mean():.4f}  (n={len(y)})")
    print(f"{'class':22s} {'n':>6s} {'precision':>9s} {'recall':>7s}")
    for c in sorted(set(y) | set(pred)):
        chosen, actual = pred == c, y == c
        p = (y[chosen] == c).mean() if chosen.any() else float("nan")
        r = (pred[actual] == c).mean() if actual.any() else float("nan")
        print(f"{c:22s} {actual.sum():6d} {p:9.3f} {r:7.3f}")
    print(f"{'source':40s} {'accuracy':>8s}  most common error")
    for s in sorted(set(source)):
        sel = source == s
        wrong = pred[sel][pred[sel] != y[sel]]
        common = max(set(wrong), key=list(wrong).count) if len(wrong) else "-"
        print(f"{s:40s} {(pred[sel] == y[sel]).mean():8.3f}  {common}")


def report_synthetic(table: pa.Table, title: str) -> None:
    fired = SyntheticDataMarkers().score(table) >= 0.5
    source = np.array(table["source"].to_pylist())
    print(f"\n## Synthetic-data markers (score >= 0.5): {title}")
    for s in sorted(set(source)):
        sel = source == s
        print(f"{s:40s} {sel.sum():6d} {fired[sel].mean():8.4f}")


def leave_family_out(train: pa.Table, test: pa.Table) -> None:
    """CoT on each family's test wording when no wording of that family was in training."""
    print("\n## CoT elicitation: each family left out of training entirely (test wording of that family)")
    print(f"{'family':28s} {'label':>5s} {'flagged':>8s}")
    for family in FAMILY_CAPABILITY:
        name = f"family:{family}"
        model = fit_cot(train.filter(pc.not_equal(train["source"], name)))
        rows = test.filter(pc.equal(test["source"], name))
        flagged = (model.predict_proba(rows)[:, 1] >= 0.5).mean()
        print(f"{family:28s} {rows['cot'][0].as_py():5d} {flagged:8.3f}")


def extras_check(cot: CotElicitationClassifier, capability: CapabilityClassifier) -> None:
    """The non-redistributable corpora of shared/data, never used in training, as benign requests and inside
    test-wording templates."""
    extra = [p for p in load_prompts(extras=True) if p.licence not in SHIPPABLE_LICENCES]
    if not extra:
        print("\n(shared/data absent: extra held-out check skipped)")
        return
    corpora = sorted({p.corpus for p in extra})
    pools = {f: tuple(corpora) for f in FAMILY_POOLS if f not in ("censorship_rewrite", "agentic_tools")}
    table = build_examples(extra, "test", per_family=0, per_corpus=TEST_PER_CORPUS, seed=SEED + 7)
    wrapped = [e for f in pools for e in family_examples(f, "test", extra, 300, SEED + 8, pools=pools[f])]
    table = pa.concat_tables([table, examples_table(wrapped)])
    title = f"non-shippable corpora {', '.join(corpora)} (held out)"
    report_cot(cot, table, title)
    report_capability(capability, table, title)
    report_synthetic(table, title)


def threshold_study(models: ContentModels, split: str, scale: float) -> None:
    """Account-level values per role on simulated traffic of one split: the signal thresholds are read off the
    train split; the test split checks that they hold on wording and prompts never seen."""
    from distillguard.content.stage import label_content
    from distillguard.engines.duckdb_api import DuckDBAPI
    from distillguard.signals.base import DetectionContext
    from distillguard.signals.content import CapabilityConcentration, CotElicitationShare, SyntheticDataShare
    from distillguard.simulate import simulate
    from distillguard.store.ingest import ingest

    for scenario in ("standard", "evasive"):
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp)
            simulate(scenario, scale, 101, out, split=split)
            db = DuckDBAPI(out / "store.duckdb")
            ingest(db, [out / "logs.jsonl"], accounts=[out / "accounts.jsonl"])
            label_content(db, models)
            db.execute(f"CREATE TABLE truth AS SELECT * FROM read_json_auto('{out / 'truth.jsonl'}')")
            print(f"\n## Account-level values per role: {scenario}, {split} split, scale {scale}, seed 101")
            for signal in (CotElicitationShare, CapabilityConcentration, SyntheticDataShare):
                db.register("signal_rows", signal().compute(DetectionContext(db)))
                print(f"\n{signal.name} (threshold {signal.threshold})")
                print(
                    _format(
                        db.query(f"""
                    SELECT t.role, count(*) AS accounts, round(min(s.value), 3) AS min,
                           round(quantile_cont(s.value, 0.05), 3) AS p05, round(median(s.value), 3) AS median,
                           round(quantile_cont(s.value, 0.95), 3) AS p95, round(quantile_cont(s.value, 0.999), 3)
                           AS p999, round(max(s.value), 3) AS max,
                           round(avg(CASE WHEN s.value >= {signal.threshold} THEN 1 ELSE 0 END), 3) AS fired
                    FROM signal_rows s JOIN truth t USING (account_id) GROUP BY t.role ORDER BY t.role""")
                    )
                )
                db.unregister("signal_rows")
            db.close()


def _format(table: pa.Table) -> str:
    rows = [table.column_names] + [[str(v) for v in r.values()] for r in table.to_pylist()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in rows)


def speed(models: ContentModels, n: int, test: pa.Table) -> None:
    """label_content over a DuckDB store of `n` requests made unique (no two share a first user message)."""
    from distillguard.content.stage import label_content
    from distillguard.engines.duckdb_api import DuckDBAPI

    with tempfile.TemporaryDirectory() as tmp:
        db = DuckDBAPI(Path(tmp) / "speed.duckdb")
        db.register("examples", test.select(["system_prompt", "first_user_message", "tool_names", "image_count"]))
        db.execute(f"""
            CREATE TABLE events AS
            SELECT 'req_' || i AS request_id, TIMESTAMP '2026-02-01' + INTERVAL (i) SECOND AS ts,
                   'acct_' || (i % 5000) AS account_id, e.system_prompt,
                   e.first_user_message || ' #' || i AS first_user_message, e.tool_names, e.image_count
            FROM range({n}) r(i)
            JOIN (SELECT *, row_number() OVER () - 1 AS k FROM examples) e ON e.k = i % {test.num_rows}""")
        t0, cpu0 = time.perf_counter(), time.process_time()
        label_content(db, models)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        assert db.scalar("SELECT count(*) FROM request_content") == n
        print(
            f"\n## Labelling speed: {n} requests in {seconds:.1f} s wall = {n / seconds:,.0f} requests/s "
            f"({cpu:.1f} s CPU in this process; DuckDB threads included)"
        )
        db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument(
        "--thresholds",
        choices=("train", "test"),
        help="print account-level values per role on simulated traffic of this split",
    )
    parser.add_argument("--scale", type=float, default=0.003, help="scale of the --thresholds scenarios")
    parser.add_argument("--speed", type=int, default=0, help="time label_content on this many requests")
    parser.add_argument("--no-leave-family-out", action="store_true")
    parser.add_argument("--no-train", action="store_true", help="evaluate the models in --out as they are")
    args = parser.parse_args()

    t0 = time.perf_counter()
    check_seed_overlap()
    train = build_examples(
        train_prompts(extras=False), "train", per_family=PER_FAMILY, per_corpus=PER_CORPUS, seed=SEED, augment=True
    )
    test = build_examples(
        prompts("test", extras=False), "test", per_family=TEST_PER_FAMILY, per_corpus=TEST_PER_CORPUS, seed=SEED + 1
    )
    print(f"train examples {train.num_rows}, test examples {test.num_rows}")
    if not args.no_train:
        cot, capability = fit_cot(train), fit_capability(train)
        print(f"fitted in {time.perf_counter() - t0:.0f} s")
        args.out.mkdir(parents=True, exist_ok=True)
        cot.save(args.out / COT_FILE)
        capability.save(args.out / CAPABILITY_FILE)
    for name in (COT_FILE, CAPABILITY_FILE):
        print(f"{args.out / name}: {(args.out / name).stat().st_size / 1e6:.2f} MB")
    # evaluate the models as shipped (float16 weights), not the in-memory ones
    cot, capability = (
        CotElicitationClassifier.load(args.out / COT_FILE),
        CapabilityClassifier.load(args.out / CAPABILITY_FILE),
    )

    report_cot(cot, test, "TEST split (test-split corpora in test-split template wording)")
    report_capability(capability, test, "TEST split")
    report_synthetic(test, "TEST split")
    if not args.no_leave_family_out:
        leave_family_out(train, test)
    extras_check(cot, capability)
    models = ContentModels(cot, capability)
    if args.thresholds:
        threshold_study(models, args.thresholds, args.scale)
    if args.speed:
        speed(models, args.speed, test)


if __name__ == "__main__":
    main()
