"""The signal plugin contract (modelled on Presidio's recognizers).

A signal is one class with one method. It reads the store through SQL and returns a table of results, one row
per subject (an account, or a pair of accounts), and every row carries its own explanation: the value, the
threshold it is judged against, up to a few evidence request ids and a sentence a person can read. Nothing is
flagged without such a row.

- `AccountSignal.compute(ctx)` returns `ACCOUNT_RESULT`: account_id, value, evidence, detail.
- `PairSignal.compute(ctx)` returns `PAIR_RESULT`: account_a < account_b, weight in (0, 1], evidence, detail.

Account signals are features of one account (how concentrated its capability mix is, how regular its timing
is); pair signals are links between accounts (shared payment, shared address sets, synchronised activity) that
the linkage stage turns into campaigns. `fired` and the threshold belong to the signal, so a reason can say
"cot_elicitation_share 0.92 ≥ 0.30".
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pyarrow as pa

from distillguard.engines.base import DatabaseAPI

ACCOUNT_RESULT = pa.schema(
    [
        ("account_id", pa.string()),
        ("value", pa.float64()),
        ("evidence", pa.list_(pa.string())),
        ("detail", pa.string()),
    ]
)
PAIR_RESULT = pa.schema(
    [
        ("account_a", pa.string()),
        ("account_b", pa.string()),
        ("weight", pa.float64()),
        ("evidence", pa.list_(pa.string())),
        ("detail", pa.string()),
    ]
)


@dataclass
class DetectionContext:
    """What a signal may use: the store, the detection settings, and tables earlier stages wrote.

    The request-label stages write `request_content` (content classes) and `request_templates` (template ids)
    before any signal runs, so account and pair signals are SQL over those, `events` and `accounts`.
    """

    db: DatabaseAPI
    settings: dict[str, Any] = field(default_factory=dict)

    def setting(self, name: str, default: Any) -> Any:
        return self.settings.get(name, default)


class Signal(ABC):
    """Common to every signal: a unique `name`, the `family` it belongs to, and what it means."""

    name: ClassVar[str]
    family: ClassVar[str]  # content | templates | behaviour | infrastructure | synchrony
    description: ClassVar[str]


class AccountSignal(Signal):
    """A per-account feature; `threshold` is where the value starts to count as suspicious."""

    threshold: ClassVar[float]

    @abstractmethod
    def compute(self, ctx: DetectionContext) -> pa.Table:
        """`ACCOUNT_RESULT` rows for the accounts this signal has something to say about."""


class PairSignal(Signal):
    """A link between two accounts; `weight` is how strongly the pair belongs together."""

    @abstractmethod
    def compute(self, ctx: DetectionContext) -> pa.Table:
        """`PAIR_RESULT` rows, each pair once with account_a < account_b."""
