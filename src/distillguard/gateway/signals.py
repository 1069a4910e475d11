"""Cheap per-request signals the gateway computes before forwarding (each well under a millisecond).

- `cot_hint`: does the last user message (or the system prompt) ask for written-out reasoning? A weighted
  phrase count, not the learned `CotElicitationClassifier`: that model costs ~1.8 ms for one request (its
  fixed cost is building Arrow arrays and sparse matrices) but 12 µs per request in batches, so the learned
  score is left to `detect`, which labels every logged request in batches; the gateway only needs a hint.
- `address_class`: `NetworkClassifier.class_of` with a bounded memo (clients reuse addresses).
- template match (`TemplateIndex`): the request's prompts masked in Python the way `templates.masking` masks
  them in SQL, then compared with the templates that campaign accounts used. System prompts: a MinHash over
  the same word bigrams, seed and permutations as the `templates.signature` column, so the stored signature
  itself is compared (estimated Jaccard ≥ 0.7, the template stage's threshold). User prompts: a template is
  a frame ("... <*> ...") around varying content, so Jaccard with a whole prompt says little; instead the
  share of the frame's word bigrams (from `example_masked`) found in the prompt (≥ 0.8), via an inverted
  index so the cost does not grow with the number of templates.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from rensa import RMinHash

from distillguard.enrich.network import NetworkClassifier
from distillguard.templates.masking import MASKS
from distillguard.templates.stage import EXAMPLE_CHARS, SIGNATURE_PERM, SIGNATURE_SEED

MAX_WORDS = 256  # as TemplateConfig.max_words
SCAN_CHARS = 8000  # a template shows itself in a prompt's first few thousand characters
SYSTEM_THRESHOLD = 0.7
USER_CONTAINMENT = 0.8
MIN_FRAME_BIGRAMS = 4

# (pattern, weight): phrases that ask a model to write its reasoning out, from the archetype-A tells.
_COT_PHRASES = [
    (r"step[- ]by[- ]step", 0.35),
    (r"\b(?:internal|hidden|full|complete|transparent|detailed) (?:reasoning|thought process|thinking)", 0.5),
    (r"\breasoning (?:trace|chain|behind|process)\b", 0.5),
    (r"\bchain[- ]of[- ]thought\b", 0.6),
    (
        r"\b(?:show|explain|articulate|write out|reveal|narrate) (?:your|the|all|each|every) ?\w* "
        r"(?:reasoning|thinking|thoughts|steps)",
        0.45,
    ),
    (r"\bthink (?:out loud|aloud|through (?:it|this|each))", 0.35),
    (r"<(?:thinking|reasoning|scratchpad)>", 0.5),
    (r"\bimagine (?:and articulate )?the (?:internal )?reasoning", 0.6),
]
_COT_RE = [(re.compile(p), w) for p, w in _COT_PHRASES]
# Every phrase above contains one of these; most prompts contain none, and `in` is far cheaper than a regex.
_COT_WORDS = ("step", "reason", "think", "thought", "chain", "<scratchpad")
_MASKS = [
    (re.compile(p.removeprefix("(?i)"), re.ASCII | (re.IGNORECASE if p.startswith("(?i)") else 0)), r) for p, r in MASKS
]
_SPACES = re.compile(r"[ \t\r\f\v]+")
_WS = re.compile(r"\s+")
_NON_WORD = re.compile(r"(?:[^\w<>*]|_)+")


def cot_hint(text: str | None) -> float:
    """0..1: 1 - Π(1 - weight) over the reasoning-elicitation phrases found in `text`."""
    if not text:
        return 0.0
    text = text[:SCAN_CHARS].lower()
    if not any(word in text for word in _COT_WORDS):
        return 0.0
    keep = 1.0
    for pattern, weight in _COT_RE:
        if pattern.search(text):
            keep *= 1.0 - weight
    return round(1.0 - keep, 4)


class AddressClassifier:
    """`NetworkClassifier.class_of` behind a bounded memo."""

    def __init__(self, network: NetworkClassifier | None = None, memo: int = 65_536) -> None:
        network = network or NetworkClassifier.default()
        self.classify = lru_cache(maxsize=memo)(network.class_of)

    def __call__(self, ip: str | None) -> str | None:
        return self.classify(ip) if ip else None


def masked(text: str) -> str:
    """Python twin of `masking.mask_sql` then `flat_sql`: the one-line masked form of a prompt."""
    out = text[:SCAN_CHARS]
    for pattern, replacement in _MASKS:
        out = pattern.sub(replacement, out)
    return _WS.sub(" ", _SPACES.sub(" ", out.lower())).strip()


def shingles(flat: str, max_words: int = MAX_WORDS) -> list[str]:
    """Twin of `words_sql` + `shingles_sql`: word bigrams of the first `max_words` words."""
    words = [w for w in _NON_WORD.split(flat) if w][:max_words]
    if not words:
        return [flat]
    if len(words) == 1:
        return words
    return [f"{a} {b}" for a, b in zip(words[:-1], words[1:], strict=True)]


@dataclass(frozen=True)
class TemplateMatch:
    template_id: str
    kind: str
    similarity: float


@dataclass(frozen=True)
class TemplateIndex:
    """Campaign templates in the two forms the hot path compares against (see the module docstring)."""

    system_ids: list[str] = field(default_factory=list)
    system_sigs: np.ndarray = field(default_factory=lambda: np.zeros((0, SIGNATURE_PERM), np.uint32))
    user_ids: list[str] = field(default_factory=list)
    user_sizes: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    postings: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> TemplateIndex:
        return cls()

    @classmethod
    def build(cls, rows: list[tuple[str, str, str, np.ndarray]]) -> TemplateIndex:
        """From (template_id, kind, example_masked, signature) rows of the `templates` table."""
        system_ids, sigs, user_ids, sizes = [], [], [], []
        postings: dict[str, list[int]] = {}
        for template_id, kind, example, signature in rows:
            if kind == "system" and len(signature) == SIGNATURE_PERM:
                system_ids.append(template_id)
                sigs.append(signature.astype(np.uint32))
                continue
            frame = _frame_bigrams(example or "")
            if kind != "user" or len(frame) < MIN_FRAME_BIGRAMS:
                continue
            for gram in frame:
                postings.setdefault(gram, []).append(len(user_ids))
            user_ids.append(template_id)
            sizes.append(len(frame))
        return cls(
            system_ids,
            np.array(sigs, dtype=np.uint32).reshape(len(sigs), SIGNATURE_PERM),
            user_ids,
            np.array(sizes, dtype=np.int64),
            postings,
        )

    def __len__(self) -> int:
        return len(self.system_ids) + len(self.user_ids)

    def match(self, system: str | None, user: str | None) -> TemplateMatch | None:
        """The best-matching campaign template of a request's system prompt or user message, if any."""
        best: TemplateMatch | None = None
        if system and self.system_ids:
            m = RMinHash(SIGNATURE_PERM, SIGNATURE_SEED)
            m.update(shingles(masked(system)))
            sim = (self.system_sigs == np.asarray(m.digest(), np.uint32)).mean(axis=1)
            i = int(np.argmax(sim))
            if sim[i] >= SYSTEM_THRESHOLD:
                best = TemplateMatch(self.system_ids[i], "system", round(float(sim[i]), 4))
        if user and self.postings:
            counts: Counter[int] = Counter()
            for gram in set(shingles(masked(user), max_words=4 * MAX_WORDS)):
                counts.update(self.postings.get(gram, ()))
            for i, hits in counts.items():
                share = hits / int(self.user_sizes[i])
                if share >= USER_CONTAINMENT and (best is None or share > best.similarity):
                    best = TemplateMatch(self.user_ids[i], "user", round(share, 4))
        return best


def _frame_bigrams(example: str) -> set[str]:
    """Word bigrams of a user template's fixed text: none spans the `<*>` slot; a cut-off last word is dropped."""
    words = [w for w in _NON_WORD.split(example) if w]
    if len(example) >= EXAMPLE_CHARS and words:
        words = words[:-1]
    return {f"{a} {b}" for a, b in zip(words[:-1], words[1:], strict=False) if "<*>" not in (a, b)}
