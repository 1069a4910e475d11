"""`distillguard detect`: the whole detection as a short list of stages, each reading and writing tables.

1. request labels   content classes and template ids per request (`request_content`, `request_templates`)
2. signals          every registered account and pair signal, with explanations (`account_signals`, `pair_signals`)
3. linkage          pairs → weighted account graph → Leiden clusters (`account_links`, `account_clusters`)
4. scoring          features → calibrated account scores and top reasons (`account_features`, `account_detections`)
5. campaigns        clusters of flagged accounts → campaigns (`campaigns`)
6. enforcement      a recommended action per account from configurable thresholds (`enforcement`)
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from distillguard.detect.campaigns import CampaignConfig, build_campaigns
from distillguard.detect.enforcement import EnforcementPolicy, recommend_actions
from distillguard.detect.scores import score_accounts
from distillguard.detect.signals_stage import StepCallback, run_signals
from distillguard.detect.tables import reset
from distillguard.engines.base import DatabaseAPI
from distillguard.linkage.graph import link_accounts
from distillguard.scoring.scorer import AccountScorer
from distillguard.signals.base import DetectionContext

# Request-level stages, run before any signal: (module, function taking the DatabaseAPI).
REQUEST_STAGES = (
    ("distillguard.content.stage", "label_content"),
    ("distillguard.templates.stage", "label_templates"),
)


@dataclass
class DetectionSettings:
    min_edge: float = 0.5
    resolution: float = 0.2
    campaigns: CampaignConfig = field(default_factory=CampaignConfig)
    signals: dict[str, Any] = field(default_factory=dict)
    enforcement: EnforcementPolicy = field(default_factory=EnforcementPolicy)


def detect(
    db: DatabaseAPI,
    settings: DetectionSettings | None = None,
    scorer: AccountScorer | None = None,
    on_step: StepCallback | None = None,
) -> None:
    """Run every stage over the store behind `db`; results are tables in the same store."""
    settings = settings or DetectionSettings()
    step = on_step or (lambda _name: None)
    link(db, settings, step)
    step("scoring")
    score_accounts(db, scorer or AccountScorer.load())
    step("campaigns")
    build_campaigns(db, settings.campaigns)
    step("enforcement")
    recommend_actions(db, settings.enforcement)


def link(db: DatabaseAPI, settings: DetectionSettings, step: StepCallback) -> None:
    """Stages 1-3: everything the scorer reads (also what `scripts/train_scorer.py` runs before fitting)."""
    reset(db)
    for module, function in REQUEST_STAGES:
        step(f"label requests: {module.rsplit('.', 2)[-2]}")
        getattr(importlib.import_module(module), function)(db)
    run_signals(DetectionContext(db, settings.signals), on_step=lambda name: step(f"signal: {name}"))
    step("linkage")
    link_accounts(db, min_edge=settings.min_edge, resolution=settings.resolution)
