"""The three content labellers together, scoring a batch of requests with one pass over its text.

Both learned models use the same hashed feature space, so their coefficients are stacked into one
(n_features, 1 + classes) matrix and every n-gram is looked up once for all of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.content.features import request_columns
from distillguard.content.models import CapabilityClassifier, CotElicitationClassifier, probabilities
from distillguard.content.synthetic import SyntheticDataMarkers

COT_FILE = "cot_elicitation.npz"
CAPABILITY_FILE = "capability.npz"
VISION = "vision"
# An attached image makes a request "vision" unless the text says it is a computer-use step (screenshots are
# how computer-use agents see): no corpus we may train on has image requests, so this is a rule.
IMAGE_CAPABILITIES = frozenset({"computer_use"})
LABEL_SCHEMA = pa.schema(
    [
        ("cot_score", pa.float64()),
        ("capability", pa.string()),
        ("capability_score", pa.float64()),
        ("synthetic_score", pa.float64()),
    ]
)


@dataclass
class ContentModels:
    """CoT-elicitation classifier, capability classifier and synthetic-data markers, applied together."""

    cot: CotElicitationClassifier
    capability: CapabilityClassifier
    synthetic: SyntheticDataMarkers = field(default_factory=SyntheticDataMarkers)

    def __post_init__(self) -> None:
        if self.cot.featurizer_.spec != self.capability.featurizer_.spec:
            raise ValueError("the CoT and capability models must share one feature spec")
        self._weights = np.ascontiguousarray(np.hstack([self.cot.weights(), self.capability.weights()]))
        self._intercept = np.concatenate([self.cot.intercept_, self.capability.intercept_])

    def label(self, batch: pa.Table | pa.RecordBatch) -> pa.Table:
        """`LABEL_SCHEMA` columns, one row per request of `batch` (columns as in `events`)."""
        scores = self.cot.featurizer_.linear_scores(batch, self._weights, self._intercept)
        cot = probabilities(scores[:, 0])[:, 1]
        proba = probabilities(scores[:, 1:])
        best = np.argmax(proba, axis=1)
        capability = np.asarray(self.capability.classes_, dtype=object)[best]
        capability_score = proba[np.arange(len(best)), best]
        image = pc.fill_null(pc.greater(request_columns(batch)["image_count"], 0), False)
        vision = image.to_numpy(zero_copy_only=False) & ~np.isin(capability, list(IMAGE_CAPABILITIES))
        capability[vision] = VISION
        capability_score[vision] = 1.0  # assigned by the image rule, not by the classifier
        return pa.table(
            [cot, pa.array(capability, pa.string()), capability_score, self.synthetic.score(batch)], schema=LABEL_SCHEMA
        )


def load_default_models(directory: str | Path | None = None) -> ContentModels:
    """The shipped models (`distillguard/data/models/`), or those in `directory`."""
    if directory is not None:
        base = Path(directory)
        return ContentModels(
            CotElicitationClassifier.load(base / COT_FILE), CapabilityClassifier.load(base / CAPABILITY_FILE)
        )
    root = resources.files("distillguard") / "data" / "models"
    with resources.as_file(root / COT_FILE) as cot, resources.as_file(root / CAPABILITY_FILE) as capability:
        return ContentModels(CotElicitationClassifier.load(cot), CapabilityClassifier.load(capability))
