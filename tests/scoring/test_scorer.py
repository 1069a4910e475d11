"""The account scorer as an estimator: fit/predict, threshold from the target FPR, JSON round trip."""

from __future__ import annotations

import numpy as np

from distillguard.scoring.scorer import AccountScorer


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    negatives = rng.normal(0, 1, size=(2000, 3))
    positives = rng.normal(0, 1, size=(200, 3)) + np.array([3.0, 0.0, 0.0])
    return np.vstack([negatives, positives]), np.r_[np.zeros(2000), np.ones(200)]


def test_fit_learns_the_informative_feature_and_returns_self() -> None:
    x, y = _data()
    scorer = AccountScorer()
    assert scorer.fit(x, y, ["signal", "noise1", "noise2"]) is scorer
    assert abs(scorer.coef_[0]) > 5 * max(abs(scorer.coef_[1]), abs(scorer.coef_[2]))
    p = scorer.predict_proba(x)
    assert p[y == 1].mean() > 0.8 > 0.2 > p[y == 0].mean()


def test_threshold_keeps_training_false_positive_rate_at_target() -> None:
    x, y = _data()
    scorer = AccountScorer(target_fpr=0.001).fit(x, y, ["a", "b", "c"])
    flagged = scorer.predict_proba(x) >= scorer.threshold_
    fpr = flagged[y == 0].mean()
    assert fpr <= 0.001
    assert scorer.threshold_ >= 0.5


def test_json_round_trip_gives_identical_scores() -> None:
    x, y = _data(1)
    scorer = AccountScorer(c=0.5).fit(x, y, ["a", "b", "c"])
    again = AccountScorer.from_json(scorer.to_json())
    assert np.allclose(again.predict_proba(x), scorer.predict_proba(x))
    assert again.threshold_ == scorer.threshold_ and again.c == 0.5


def test_contributions_sum_to_the_log_odds() -> None:
    x, y = _data(2)
    scorer = AccountScorer().fit(x, y, ["a", "b", "c"])
    assert np.allclose(scorer.contributions(x).sum(axis=1) + scorer.intercept_, scorer.decision(x))


def test_align_puts_missing_features_at_the_training_mean() -> None:
    x, y = _data(3)
    scorer = AccountScorer().fit(x, y, ["a", "b", "c"])
    aligned = scorer.align(x[:, [2, 0]], ["c", "a"])
    assert np.allclose(aligned[:, 0], x[:, 0]) and np.allclose(aligned[:, 2], x[:, 2])
    assert np.allclose(aligned[:, 1], scorer.mean_[1])
