"""Every signal distillguard runs, in one list. A new signal is a class in its family's module plus one line here."""

from __future__ import annotations

import importlib

from distillguard.signals.base import AccountSignal, PairSignal

# The signal families. Each module registers its classes with `@register` when imported.
FAMILY_MODULES = (
    "distillguard.signals.content",
    "distillguard.signals.behaviour",
    "distillguard.signals.infrastructure",
    "distillguard.signals.identity",
    "distillguard.signals.templates",
    "distillguard.signals.synchrony",
)

ACCOUNT_SIGNALS: list[type[AccountSignal]] = []
PAIR_SIGNALS: list[type[PairSignal]] = []


def load() -> tuple[list[type[AccountSignal]], list[type[PairSignal]]]:
    """Every registered signal class: (account signals, pair signals)."""
    for module in FAMILY_MODULES:
        importlib.import_module(module)
    return ACCOUNT_SIGNALS, PAIR_SIGNALS


def register(cls: type) -> type:
    """Class decorator adding a signal to the registry (names must be unique)."""
    target = ACCOUNT_SIGNALS if issubclass(cls, AccountSignal) else PAIR_SIGNALS
    if any(c.name == cls.name for c in (*ACCOUNT_SIGNALS, *PAIR_SIGNALS)):
        raise ValueError(f"duplicate signal name {cls.name!r}")
    target.append(cls)
    return cls
