"""The account scorer: a regularised logistic regression over interpretable features.

Why linear: every score decomposes into per-feature contributions (coefficient x standardised value), which
become the "top reasons" shown to an analyst, each pointing at the signal rows and evidence request ids
behind it. The model is trained only on simulated traffic built from the TRAIN split of prompts and template
wordings (`scripts/train_scorer.py`), and shipped as plain numbers in JSON (no pickles).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

DEFAULT_MODEL = "scorer.json"


@dataclass
class Contribution:
    feature: str
    value: float
    contribution: float


class AccountScorer:
    """scikit-learn conventions: `__init__` stores parameters, `fit` returns self, fitted state ends in `_`.

    `target_fpr` sets the flagging threshold at fit time: the lowest score whose false-positive rate on the
    training accounts is at most this (never below 0.5, so a flag always means "more likely than not").
    """

    def __init__(self, c: float = 1.0, target_fpr: float = 0.0005) -> None:
        self.c = c
        self.target_fpr = target_fpr

    def fit(self, x: np.ndarray, y: np.ndarray, feature_names: list[str]) -> AccountScorer:
        self.feature_names_ = list(feature_names)
        self.mean_ = x.mean(axis=0)
        self.scale_ = np.where(x.std(axis=0) > 1e-9, x.std(axis=0), 1.0)
        model = LogisticRegression(C=self.c, max_iter=2000, class_weight="balanced")
        model.fit((x - self.mean_) / self.scale_, y)
        self.coef_ = model.coef_[0]
        self.intercept_ = float(model.intercept_[0])
        scores = self.predict_proba(x)
        negatives = np.sort(scores[y == 0])[::-1]
        allowed = int(np.floor(self.target_fpr * len(negatives)))
        cut = negatives[allowed] if allowed < len(negatives) else 0.0
        self.threshold_ = float(max(0.5, np.nextafter(cut, 1.0)))
        return self

    def decision(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean_) / self.scale_) @ self.coef_ + self.intercept_

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.decision(x)))

    def contributions(self, x: np.ndarray) -> np.ndarray:
        """Per-feature contribution to each account's log-odds."""
        return ((x - self.mean_) / self.scale_) * self.coef_

    def to_json(self) -> dict:
        return {
            "params": {"c": self.c, "target_fpr": self.target_fpr},
            "feature_names": self.feature_names_,
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "coef": self.coef_.tolist(),
            "intercept": self.intercept_,
            "threshold": self.threshold_,
        }

    @classmethod
    def from_json(cls, data: dict) -> AccountScorer:
        scorer = cls(**data["params"])
        scorer.feature_names_ = list(data["feature_names"])
        scorer.mean_ = np.asarray(data["mean"], dtype=float)
        scorer.scale_ = np.asarray(data["scale"], dtype=float)
        scorer.coef_ = np.asarray(data["coef"], dtype=float)
        scorer.intercept_ = float(data["intercept"])
        scorer.threshold_ = float(data["threshold"])
        return scorer

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1))

    @classmethod
    def load(cls, path: Path | None = None) -> AccountScorer:
        """The shipped model, or the one at `path`."""
        if path is None:
            text = (resources.files("distillguard") / "data" / "models" / DEFAULT_MODEL).read_text()
        else:
            text = Path(path).read_text()
        return cls.from_json(json.loads(text))

    def align(self, x: np.ndarray, names: list[str]) -> np.ndarray:
        """Columns of `x` (named `names`) reordered to the model's features; missing ones at the mean."""
        index = {n: i for i, n in enumerate(names)}
        out = np.tile(self.mean_, (x.shape[0], 1))
        for j, name in enumerate(self.feature_names_):
            if name in index:
                out[:, j] = x[:, index[name]]
        return out
