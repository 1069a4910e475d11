"""Synthetic-data-generation markers: a small, documented rule set rather than a learned classifier.

Why rules: no corpus we may train on contains labelled data-generation requests, and the phrasing is
formulaic across providers' users ("generate 20 examples of ...", "return a JSON list of objects with the
fields ...", "label each one"), so a few regular expressions say more, and say it more readably, than a model
fitted to made-up positives. Each marker adds its weight when it matches the system prompt or the first user
message; the score is the capped sum, so one marker alone stays below 0.5 and it takes two kinds of evidence
(many items + a dataset format, or + labels) to reach it.

The markers describe content, not intent: customers generating training data for their own classifiers send
exactly these requests (a hard negative, DESIGN §1). `synthetic_data_share` is therefore one feature among
many for the scorer, never a verdict by itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.content.features import HashSpec, request_columns


@dataclass(frozen=True)
class Marker:
    name: str
    weight: float
    pattern: str  # RE2 syntax, matched case-insensitively


MARKERS = (
    Marker(
        "asks_for_many_items",
        0.4,
        r"\b(generate|create|write|produce|give me|make|come up with|synthesi[sz]e|draft|invent)\b[^.\n]{0,40}?"
        r"\b(\d{1,5}|three|four|five|six|seven|eight|nine|ten|twenty|fifty|hundred|dozens of|several|multiple)"
        r"\s+([\w-]+\s+){0,3}?[\w-]+s\b",  # a number, then a plural noun within four words
    ),
    Marker(
        "dataset_output_format",
        0.3,
        r"\bjson ?(list|array|lines)\b|\bjsonl\b|\b(list|array) of (json )?objects\b|\bcsv\b|"
        r"\b(fields?|keys?|columns?)\b[^.\n]{0,30}[\"'`]\w+[\"'`]",
    ),
    Marker(
        "labelled_training_data",
        0.3,
        r"\blabel(l?ed|s)?\b|\bannotat\w*|\bclassifiers?\b|\btraining (data|set|examples?)\b|\bdatasets?\b|"
        r"\bsynthetic\b|\bfine-?tun\w*",
    ),
    Marker("asks_for_diversity", 0.15, r"\b(diverse|diversity|vary|varied|variety of|realistic)\b"),
)


class SyntheticDataMarkers:
    """Scores requests by `MARKERS`, vectorised over an Arrow batch (RE2 via pyarrow.compute, once per distinct
    text of the batch, on the first `max_chars` characters: the request for data comes before any pasted
    material)."""

    def __init__(self, markers: tuple[Marker, ...] = MARKERS, max_chars: int = HashSpec.head_chars) -> None:
        self.markers = markers
        self.max_chars = max_chars

    def matches(self, batch: pa.Table | pa.RecordBatch) -> dict[str, np.ndarray]:
        """Per marker, whether it matches each request's system prompt or first user message."""
        cols = request_columns(batch)
        out = {m.name: np.zeros(batch.num_rows, dtype=bool) for m in self.markers}
        for name in ("system_prompt", "first_user_message"):
            encoded = pc.dictionary_encode(pc.fill_null(cols[name], ""))
            rows = encoded.indices.to_numpy(zero_copy_only=False)
            texts = pc.utf8_slice_codeunits(encoded.dictionary, 0, self.max_chars)
            for m in self.markers:
                hit = pc.match_substring_regex(texts, m.pattern, ignore_case=True).to_numpy(zero_copy_only=False)
                out[m.name] |= hit[rows]
        return out

    def score(self, batch: pa.Table | pa.RecordBatch) -> np.ndarray:
        """min(1, sum of the weights of the markers that match), per request."""
        hits = self.matches(batch)
        total = sum(m.weight * hits[m.name] for m in self.markers)
        return np.minimum(np.asarray(total, dtype=np.float64), 1.0)
