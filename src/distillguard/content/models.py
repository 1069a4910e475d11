"""The learned content classifiers: hashed n-grams (`features.py`) into an L2-regularised logistic regression.

Why linear: every request of a store is scored, so inference must be a sparse product (a million requests
in seconds on two cores), and a linear model over n-grams is what paraphrase-robust text classification
needs when the training wording is a few hundred template renderings: it weighs every fragment of "write out
the reasoning step by step" separately, so a paraphrase that keeps some fragments still scores.

The estimators follow scikit-learn's conventions (`__init__` stores parameters, `fit` returns self, fitted
state ends in `_`) but only `fit` needs scikit-learn: a fitted model is a few arrays, saved and loaded as a
plain `.npz` (no pickle, so loading package data can never run code).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from distillguard.content.features import HashSpec, RequestFeaturizer

FORMAT_VERSION = 1


class HashedLinearClassifier:
    """Logistic regression over `RequestFeaturizer` features; `X` is an Arrow table of request fields."""

    _param_names: ClassVar[tuple[str, ...]] = (
        "C",
        "class_weight",
        "n_bits",
        "char_min",
        "char_max",
        "min_df",
        "max_iter",
    )

    def __init__(
        self,
        *,
        C: float = 1.0,
        class_weight: str | None = None,
        n_bits: int = 18,
        char_min: int = 3,
        char_max: int = 5,
        min_df: int = 2,
        max_iter: int = 500,
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.n_bits = n_bits
        self.char_min = char_min
        self.char_max = char_max
        self.min_df = min_df
        self.max_iter = max_iter

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names}

    def set_params(self, **params: Any) -> HashedLinearClassifier:
        for name, value in params.items():
            if name not in self._param_names:
                raise ValueError(f"unknown parameter {name!r}")
            setattr(self, name, value)
        return self

    def fit(self, X: pa.Table, y: Any) -> HashedLinearClassifier:
        """Fit on request fields `X` and labels `y`. Buckets seen in fewer than `min_df` requests get no
        weight: a bucket seen once is a memorised detail of one prompt, and dropping them keeps the model
        small."""
        from sklearn.linear_model import LogisticRegression  # only training needs scikit-learn

        self.featurizer_ = RequestFeaturizer(
            HashSpec(n_bits=self.n_bits, char_min=self.char_min, char_max=self.char_max)
        )
        matrix = self.featurizer_.transform(X)
        df = np.bincount(matrix.indices, minlength=matrix.shape[1])
        matrix = matrix @ sp.diags((df >= self.min_df).astype(np.float32))
        model = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter, tol=1e-4)
        model.fit(matrix, np.asarray(y))
        self.classes_ = model.classes_
        self.coef_ = model.coef_.astype(np.float32)
        self.intercept_ = model.intercept_.astype(np.float64)
        self._weights = None
        return self

    # ------------------------------------------------------------------------------------------ predict

    def weights(self) -> np.ndarray:
        """The coefficients as a contiguous (n_features, rows) array, the layout the sparse product wants."""
        if getattr(self, "_weights", None) is None:
            self._weights = np.ascontiguousarray(self.coef_.T)
        return self._weights

    def decision_function(self, X: pa.Table | pa.RecordBatch) -> np.ndarray:
        scores = self.featurizer_.linear_scores(X, self.weights(), self.intercept_)
        return scores[:, 0] if len(self.classes_) == 2 else scores

    def predict_proba(self, X: pa.Table | pa.RecordBatch) -> np.ndarray:
        return probabilities(self.decision_function(X))

    def predict(self, X: pa.Table | pa.RecordBatch) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    # ------------------------------------------------------------------------------------- persistence

    def save(self, path: str | Path) -> None:
        """Write the fitted model as a compressed `.npz`: the non-zero weight buckets, their float16 weights
        per class, the intercepts, and a JSON header (parameters, feature spec, classes)."""
        columns = np.flatnonzero(np.any(self.coef_ != 0, axis=0)).astype(np.uint32)
        header = {
            "format": FORMAT_VERSION,
            "estimator": type(self).__name__,
            "params": self.get_params(),
            "spec": self.featurizer_.spec.to_dict(),
            "classes": [c.item() if hasattr(c, "item") else c for c in self.classes_],
        }
        _write_npz(
            path,
            {
                "header": np.array(json.dumps(header, sort_keys=True)),
                "bucket_gaps": np.diff(columns, prepend=np.uint32(0)).astype(np.uint32),
                "weights": self.coef_[:, columns].astype(np.float16),
                "intercept": self.intercept_,
            },
        )

    @classmethod
    def load(cls, path: str | Path) -> HashedLinearClassifier:
        """Rebuild a fitted model from `save`'s arrays (never unpickles)."""
        with np.load(path, allow_pickle=False) as arrays:
            header = json.loads(str(arrays["header"]))
            if header["format"] != FORMAT_VERSION:
                raise ValueError(f"{path}: model format {header['format']}, expected {FORMAT_VERSION}")
            model = cls(**header["params"])
            model.featurizer_ = RequestFeaturizer(HashSpec(**header["spec"]))
            columns = np.cumsum(arrays["bucket_gaps"].astype(np.int64))
            coef = np.zeros((arrays["weights"].shape[0], model.featurizer_.n_features), dtype=np.float32)
            coef[:, columns] = arrays["weights"].astype(np.float32)
            model.coef_ = coef
            model.intercept_ = arrays["intercept"].astype(np.float64)
        classes = header["classes"]
        model.classes_ = np.array(classes, dtype=object if isinstance(classes[0], str) else np.int64)
        model._weights = None
        return model


class CotElicitationClassifier(HashedLinearClassifier):
    """Binary: does the request ask the model to write out its reasoning (a reasoning trace, the reasoning
    behind a given answer, narrated step-by-step thinking)? `y` is 0/1; `predict_proba[:, 1]` is cot_score."""


class CapabilityClassifier(HashedLinearClassifier):
    """Multiclass: which capability the request exercises (coding, tool_use_agentic, reasoning_math,
    data_analysis, computer_use, rubric_grading, censorship_rewrite, general_chat; vision is a rule on attached
    images, `labeller.VISION`). `y` holds capability names."""


def _write_npz(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """`np.savez_compressed` with fixed member timestamps, so the same model is the same bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w") as fh:
                np.lib.format.write_array(fh, np.asarray(array), allow_pickle=False)


def probabilities(scores: np.ndarray) -> np.ndarray:
    """Logistic (1-D scores → two columns) or softmax (one column per class) of decision scores."""
    if scores.ndim == 1:
        p = 1.0 / (1.0 + np.exp(-scores))
        return np.stack([1.0 - p, p], axis=1)
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
