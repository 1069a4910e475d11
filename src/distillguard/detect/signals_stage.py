"""Run every registered signal and store its rows with their explanations."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from distillguard.engines.base import sql_literal
from distillguard.signals.base import ACCOUNT_RESULT, PAIR_RESULT, DetectionContext
from distillguard.signals.registry import load

StepCallback = Callable[[str], None]


def run_signals(ctx: DetectionContext, on_step: StepCallback | None = None) -> None:
    """Fill `account_signals` and `pair_signals` from every registered signal."""
    account_signals, pair_signals = load()
    for cls in account_signals:
        if on_step:
            on_step(cls.name)
        rows = cls().compute(ctx).select(ACCOUNT_RESULT.names).cast(ACCOUNT_RESULT)
        ctx.db.register("signal_rows", rows)
        ctx.db.execute(f"""
            INSERT INTO account_signals
            SELECT account_id, {sql_literal(cls.name)}, {sql_literal(cls.family)}, value, {cls.threshold},
                   value >= {cls.threshold}, evidence, detail
            FROM signal_rows WHERE value IS NOT NULL""")
        ctx.db.unregister("signal_rows")
    for cls in pair_signals:
        if on_step:
            on_step(cls.name)
        rows = _ordered(cls().compute(ctx).select(PAIR_RESULT.names).cast(PAIR_RESULT))
        ctx.db.register("signal_rows", rows)
        ctx.db.execute(f"""
            INSERT INTO pair_signals
            SELECT account_a, account_b, {sql_literal(cls.name)}, {sql_literal(cls.family)}, weight, evidence, detail
            FROM signal_rows WHERE weight > 0""")
        ctx.db.unregister("signal_rows")


def _ordered(rows: pa.Table) -> pa.Table:
    """Pairs with account_a < account_b, whatever order a signal produced them in."""
    a, b = rows.column("account_a"), rows.column("account_b")
    swap = pc.greater(a, b)
    return rows.set_column(0, "account_a", pc.if_else(swap, b, a)).set_column(1, "account_b", pc.if_else(swap, a, b))
