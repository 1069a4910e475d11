"""Content signals per request: chain-of-thought elicitation, capability, synthetic-data generation.

`load_default_models()` returns the shipped classifiers (trained on the TRAIN split only by
`scripts/train_content_models.py`); `stage.label_content(db)` labels every request of a store into
`request_content`, which the account signals in `distillguard.signals.content` aggregate.
"""

from distillguard.content.labeller import ContentModels, load_default_models
from distillguard.content.models import CapabilityClassifier, CotElicitationClassifier
from distillguard.content.synthetic import SyntheticDataMarkers

__all__ = [
    "CapabilityClassifier",
    "ContentModels",
    "CotElicitationClassifier",
    "SyntheticDataMarkers",
    "load_default_models",
]
