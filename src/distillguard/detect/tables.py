"""Tables the detection stages write (DuckDB dialect, portable types)."""

from __future__ import annotations

from distillguard.engines.base import DatabaseAPI

DDL = {
    "account_signals": """
        CREATE OR REPLACE TABLE account_signals (
            account_id VARCHAR, signal VARCHAR, family VARCHAR, value DOUBLE, threshold DOUBLE, fired BOOLEAN,
            evidence VARCHAR[], detail VARCHAR)""",
    "pair_signals": """
        CREATE OR REPLACE TABLE pair_signals (
            account_a VARCHAR, account_b VARCHAR, signal VARCHAR, family VARCHAR, weight DOUBLE,
            evidence VARCHAR[], detail VARCHAR)""",
}


def reset(db: DatabaseAPI) -> None:
    """Recreate the per-run signal tables (a detection run replaces the previous one)."""
    for ddl in DDL.values():
        db.execute(ddl)
