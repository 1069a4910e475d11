"""Campaign system-prompt templates as paraphrase families, split into train and test wording.

Why: a detector that memorises the exact sentences it was trained on would look perfect on its own training
wording and fail on a campaign that rephrases. So every slot of every family (``phrases.FAMILIES``) and every
family's user-message wrappers are split: options are ranked by ``sha256("distillguard-split-v1:template:"
+ family + ":" + slot + ":" + text)`` and the lowest ``ceil(0.3 * n)`` of each slot are "test", the rest
"train". Evaluation scenarios render prompts from test options only; ``train_templates`` is what training
code may read.

A *variant* is one rendering: an option per slot, an order of the non-opening slots, a layout (one line,
lines, bullets, numbers), an optional lead-in and sign-off, and a set of synonym swaps, all chosen by a PRNG
seeded from (family, split, variant number), so variant ``v`` is the same string on every machine.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random

from distillguard.simulate.corpora import SPLIT_SALT
from distillguard.simulate.phrases import FAMILIES, SYNONYMS, WRAPPERS

TEST_FRACTION = 0.3
FAMILY_NAMES = tuple(FAMILIES)
# Framing a paraphrasing pass may add around the sentences (the first entry of each is "none").
_LEADS = ("", "", "", "IMPORTANT: ", "Instructions: ", "# Role\n", "System: ")
_TAILS = ("", "", "", " Thank you.", " Follow these instructions exactly.", " Good luck!")


def _rank_split(key: str, options: list) -> dict[str, list]:
    """Stable split of one slot: lowest-hash ceil(30%) options are test (never an empty test slot)."""

    def h(o: object) -> bytes:
        return hashlib.sha256(f"{SPLIT_SALT}:template:{key}:{o}".encode()).digest()

    order = sorted(range(len(options)), key=lambda i: h(options[i]))
    n_test = math.ceil(TEST_FRACTION * len(options))
    test = set(order[:n_test])
    return {
        "test": [o for i, o in enumerate(options) if i in test],
        "train": [o for i, o in enumerate(options) if i not in test],
    }


@functools.cache
def slot_options(family: str, split: str) -> tuple[tuple[str, ...], ...]:
    """The sentence options of each slot of a family in one split."""
    return tuple(tuple(_rank_split(f"{family}:{i}", slot)[split]) for i, slot in enumerate(FAMILIES[family]))


@functools.cache
def wrappers(family: str, split: str) -> tuple[tuple[str, str, str], ...]:
    """The (prefix, middle, suffix) user-message wrappers of a family in one split."""
    return tuple(_rank_split(f"{family}:wrappers", WRAPPERS[family])[split])


def render(family: str, split: str, variant: int) -> str:
    """One system prompt of a family: variant 0 is the plain form (first option of each slot, in order)."""
    slots = slot_options(family, split)
    if variant == 0:
        return " ".join(s[0] for s in slots if s[0])
    rng = random.Random(f"{family}:{split}:{variant}")
    chosen = [rng.choice(s) for s in slots]
    rest = chosen[1:]
    rng.shuffle(rest)
    sentences = [s for s in [chosen[0], *rest] if s]
    layout = rng.choices(range(5), weights=(8, 4, 2, 1, 1))[0]
    if layout == 3:
        text = "\n".join(f"- {s}" for s in sentences)
    elif layout == 4:
        text = "\n".join(f"{i}. {s}" for i, s in enumerate(sentences, 1))
    else:
        text = (" ", "\n", "\n\n")[layout].join(sentences)
    text = rng.choice(_LEADS) + text + rng.choice(_TAILS)
    for a, b in SYNONYMS:
        if a in text and rng.random() < 0.35:
            text = text.replace(a, b)
    return text


def distinct_variants(family: str, split: str, n: int, key: int) -> list[str]:
    """`n` pairwise distinct renderings, drawn from the variant stream starting at a key (deterministic).

    Raises when the family's split cannot supply that many distinct strings.
    """
    out: list[str] = []
    seen: set[str] = set()
    v = 1 + (key * 7_919) % 1_000_003
    tries = 0
    while len(out) < n:
        text = render(family, split, v)
        v += 1
        tries += 1
        if text not in seen:
            seen.add(text)
            out.append(text)
        elif tries > 50 * n + 1000:
            raise ValueError(f"family {family!r} cannot supply {n} distinct {split} variants")
    return out


def train_templates() -> dict[str, dict[str, list]]:
    """Train-split wording per family: ``{"slots": [[sentence, ...], ...], "wrappers": [(pre, mid, suf)]}``.

    This is all a detector's training code may know about campaign templates.
    """
    return {
        f: {"slots": [list(s) for s in slot_options(f, "train")], "wrappers": list(wrappers(f, "train"))}
        for f in FAMILY_NAMES
    }
