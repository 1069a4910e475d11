"""Traffic simulator with ground truth: benign users, hard negatives and distillation campaigns.

Public entry points: ``simulate`` (write a scenario), ``SCENARIOS`` / ``KNOBS`` (what can be simulated),
``train_prompts`` and ``train_templates`` (the only corpus data and template wording a detector's training
code may read; evaluation scenarios use the test split).
"""

from distillguard.simulate.corpora import split_of, train_prompts
from distillguard.simulate.engine import SimulationSummary, simulate
from distillguard.simulate.scenarios import KNOBS, SCENARIOS, get_scenario
from distillguard.simulate.templates import train_templates

__all__ = [
    "KNOBS",
    "SCENARIOS",
    "SimulationSummary",
    "get_scenario",
    "simulate",
    "split_of",
    "train_prompts",
    "train_templates",
]
