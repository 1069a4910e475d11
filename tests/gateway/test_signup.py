"""Sign-up risk: each finding from a real store, the combined decision, and the `signup-risk` command."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.gateway.signup import SignupApplication, SignupRiskScorer
from distillguard.store.ingest import ingest

from .conftest import set_actions

T0 = datetime(2026, 2, 1, 12, 0)


@pytest.fixture(scope="module")
def signup_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("signup")
    accounts = [
        {
            "account_id": "farm_1",
            "created_at": "2026-01-05T00:00:00Z",
            "account_type": "education",
            "email_domain": "gmail.com",
            "payment_fingerprint": "card_bad",
        },
        {
            "account_id": "good_1",
            "created_at": "2026-01-05T00:00:00Z",
            "account_type": "education",
            "email_domain": "cs.stanford.edu",
            "payment_fingerprint": "card_good",
        },
    ]
    accounts += [
        {
            "account_id": f"burst_{i}",
            "created_at": (T0 - timedelta(minutes=10 * i)).isoformat() + "Z",
            "account_type": "research",
            "email_domain": "labmail.io",
        }
        for i in range(6)
    ]
    events = [
        {
            "request_id": "e1",
            "timestamp": "2026-01-06T00:00:00Z",
            "account_id": "farm_1",
            "client_ip": "203.0.113.77",
            "request": {"messages": [{"role": "user", "content": "hi"}]},
        },
    ]
    (tmp / "accounts.jsonl").write_bytes(b"".join(orjson.dumps(a) + b"\n" for a in accounts))
    (tmp / "events.jsonl").write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    db_path = tmp / "store.duckdb"
    with DuckDBAPI(db_path) as db:
        ingest(db, [tmp / "events.jsonl"], accounts=[tmp / "accounts.jsonl"])
        set_actions(db.con, {"farm_1": ("suspend", "camp_9"), "good_1": ("none", None)})
    return db_path


def _names(risk) -> set[str]:
    return {r["name"] for r in risk.reasons}


def test_genuine_student_passes_without_step_up(signup_store: Path) -> None:
    scorer = SignupRiskScorer.from_store(signup_store)
    app = SignupApplication(
        "new_1", "education", "stanford.edu", "Stanford University", "stanford.edu", "card_new", "171.64.1.1", T0
    )
    risk = scorer.score(app)
    assert risk.reasons == [] and risk.score == 0.0 and not risk.step_up_required


def test_payment_reused_from_a_flagged_account_requires_step_up(signup_store: Path) -> None:
    risk = SignupRiskScorer.from_store(signup_store).score(
        SignupApplication("new_2", "education", "stanford.edu", "Stanford University", payment_fingerprint="card_bad")
    )
    assert _names(risk) == {"payment_shared_with_flagged"} and risk.step_up_required
    clean = SignupRiskScorer.from_store(signup_store).score(
        SignupApplication("new_3", "education", "stanford.edu", "Stanford University", payment_fingerprint="card_good")
    )
    assert not clean.step_up_required  # sharing a card with an account that is not flagged says nothing


def test_domain_findings_for_education_claims(signup_store: Path) -> None:
    scorer = SignupRiskScorer.from_store(signup_store)
    free = scorer.score(SignupApplication("a", "education", "gmail.com", "MIT"))
    assert _names(free) == {"free_mail_domain"} and free.score == 0.5 and free.step_up_required
    mismatch = scorer.score(SignupApplication("b", "research", "quickmail.biz", "Oxford", "ox.ac.uk"))
    assert "email_domain_mismatch" in _names(mismatch)
    acronym = scorer.score(SignupApplication("c", "education", "mit.edu", "Massachusetts Institute of Technology"))
    assert acronym.reasons == []
    startup = scorer.score(SignupApplication("d", "startup", "acme.ai", "Acme"))
    assert startup.reasons == []  # startups are not expected to have academic domains


def test_address_reuse_and_bursts(signup_store: Path) -> None:
    scorer = SignupRiskScorer.from_store(signup_store)
    same_subnet = scorer.score(SignupApplication("e", "startup", "acme.ai", signup_ip="203.0.113.5"))
    assert {r["name"]: r["value"] for r in same_subnet.reasons} == {"address_shared_with_flagged": "203.0.113.0/24"}
    burst = scorer.score(SignupApplication("f", "research", "labmail.io", created_at=T0 + timedelta(minutes=5)))
    assert (
        "signup_burst" in _names(burst) and next(r["value"] for r in burst.reasons if r["name"] == "signup_burst") == 6
    )
    later = scorer.score(SignupApplication("g", "research", "labmail.io", created_at=T0 + timedelta(days=3)))
    assert "signup_burst" not in _names(later)


def test_signup_risk_command_scores_each_line_and_counts_bursts_within_the_file(signup_store, tmp_path) -> None:
    apps = [
        {
            "account_id": f"x{i}",
            "programme": "startup",
            "email_domain": "farm.example",
            "created_at": f"2026-02-01T12:0{i}:00Z",
        }
        for i in range(7)
    ]
    path = tmp_path / "apps.jsonl"
    path.write_bytes(b"".join(orjson.dumps(a) + b"\n" for a in apps))
    result = CliRunner().invoke(app, ["signup-risk", str(path), "--db", str(signup_store)])
    assert result.exit_code == 0, result.output
    rows = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [r["account_id"] for r in rows] == [a["account_id"] for a in apps]
    assert [r["step_up_required"] for r in rows] == [False] * 5 + [False, False]
    assert [any(x["name"] == "signup_burst" for x in r["reasons"]) for r in rows] == [False] * 5 + [True, True]


def test_signup_risk_command_errors_are_one_line(signup_store, tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"account_id": "x"}\n')
    result = CliRunner().invoke(app, ["signup-risk", str(bad), "--db", str(signup_store)])
    assert result.exit_code == 1 and "missing or non-text field(s): programme, email_domain" in result.output
    result = CliRunner().invoke(app, ["signup-risk", str(bad), "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 1 and "no store" in result.output
