"""Infrastructure pair signals on hand-made stores, including the hard negatives they must not link."""

from __future__ import annotations

from datetime import datetime

from distillguard.signals.infrastructure import RiskyAddressShare, SharedAddresses, SharedPayment, SignupBurst
from tests.signals.conftest import event


def _pairs(table) -> set[tuple[str, str]]:  # noqa: ANN001
    return {(r["account_a"], r["account_b"]) for r in table.to_pylist()}


def test_shared_payment_links_accounts_with_the_same_card_and_explains_it(store) -> None:  # noqa: ANN001
    ctx = store(
        [],
        [
            {"account_id": "a", "payment_fingerprint": "pf1"},
            {"account_id": "b", "payment_fingerprint": "pf1"},
            {"account_id": "c", "payment_fingerprint": "pf2"},
        ],
    )
    rows = SharedPayment().compute(ctx).to_pylist()
    assert [(r["account_a"], r["account_b"], r["weight"]) for r in rows] == [("a", "b", 1.0)]
    assert "pf1" in rows[0]["detail"]


def test_shared_address_pool_links_a_cell_but_a_nat_address_alone_does_not(store) -> None:  # noqa: ANN001
    pool = [f"45.1.1.{i}" for i in range(1, 7)]
    events = [event(acct, n, client_ip=pool[(n + k) % 6]) for k, acct in enumerate(["x", "y", "z"]) for n in range(12)]
    # 400 students behind one NAT address: the key is held by more accounts than the cap and links nobody.
    events += [event(f"s{i}", 0, client_ip="130.10.0.1") for i in range(400)]
    events += [event("s0", 1, client_ip="130.10.0.2"), event("s1", 1, client_ip="130.10.0.2")]
    pairs = _pairs(SharedAddresses().compute(store(events)))
    assert pairs == {("x", "y"), ("x", "z"), ("y", "z")}


def test_signup_burst_needs_the_same_hour_pathway_domain_and_pattern(store) -> None:  # noqa: ANN001
    def account(name: str, minute: int, pattern: str = "aaaa99") -> dict:
        return {
            "account_id": name,
            "created_at": datetime(2026, 1, 5, 3, minute),
            "account_type": "education",
            "email_domain": "uni.example",
            "extra": f'{{"email_pattern": "{pattern}"}}',
        }

    ctx = store(
        [],
        [
            account("a", 1),
            account("b", 40),
            account("c", 2, "aaaaa.aaaa"),
            {**account("d", 3), "created_at": datetime(2026, 1, 5, 5, 0)},
        ],
    )
    assert _pairs(SignupBurst().compute(ctx)) == {("a", "b")}


def test_risky_address_share_is_the_datacenter_share_with_evidence(store) -> None:  # noqa: ANN001
    events = [event("a", n, ip_class="datacenter" if n < 3 else "other") for n in range(4)]
    rows = RiskyAddressShare().compute(store(events)).to_pylist()
    assert rows[0]["value"] == 0.75
    assert rows[0]["evidence"] == ["a-r0", "a-r1", "a-r2"]
