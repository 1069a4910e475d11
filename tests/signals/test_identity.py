"""Identity signals on hand-made accounts: verified, unverified, and accounts the provider knows nothing about."""

from __future__ import annotations

from distillguard.signals.identity import UnverifiedAccount
from tests.signals.conftest import event


def test_unverified_account_reads_the_accounts_table_and_skips_unknowns(store) -> None:  # noqa: ANN001
    events = [event(a, 0) for a in ("known-bad", "known-good", "unknown")]
    accounts = [
        {"account_id": "known-bad", "verified": False, "account_type": "startup", "org_id": None},
        {"account_id": "known-good", "verified": True, "account_type": "enterprise", "org_id": "org_7"},
        {"account_id": "unknown", "account_type": "individual"},  # verification not recorded
        {"account_id": "no-traffic", "verified": False},
    ]
    rows = {r["account_id"]: r for r in UnverifiedAccount().compute(store(events, accounts)).to_pylist()}
    assert set(rows) == {"known-bad", "known-good"}
    assert rows["known-bad"]["value"] == 1.0 >= UnverifiedAccount.threshold
    assert rows["known-bad"]["detail"] == "unverified startup account"
    assert rows["known-good"]["value"] == 0.0
    assert rows["known-good"]["detail"] == "verified enterprise account of organisation org_7"
