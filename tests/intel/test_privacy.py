"""Nothing about accounts outside flagged campaigns leaves; no raw e-mail or payment, no prompt text, ever."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.intel.indicators import campaign_intel
from distillguard.intel.model import keyed_hash
from distillguard.intel.partners import read_intel

from .conftest import PARTNER_KEY, Provider

OUTSIDE = "account_id NOT IN (SELECT account_id FROM campaign_members)"


def _strings(path: Path) -> list[str]:
    """Every string in an export (keys and values, JSON-decoded)."""
    out: list[str] = []

    def walk(x: object) -> None:
        if isinstance(x, str):
            out.append(x)
        elif isinstance(x, dict):
            for k, v in x.items():
                out.append(k)
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(json.loads(path.read_text()))
    return out


def _column(db: DuckDBAPI, sql: str) -> set[str]:
    return {v for v in db.query(sql).column(0).to_pylist() if v}


def test_no_value_of_an_ordinary_account_is_exported(providers: dict, exports: dict) -> None:
    with DuckDBAPI(providers["a"].db, read_only=True) as db:
        outside = {
            "ipv4-addr": _column(db, f"SELECT DISTINCT client_ip FROM events WHERE {OUTSIDE}"),
            "ip-prefix": _column(db, f"SELECT DISTINCT ip_prefix FROM events WHERE {OUTSIDE}"),
            "user-agent": _column(db, f"SELECT DISTINCT user_agent FROM events WHERE {OUTSIDE}"),
            "tls-fingerprint": _column(db, f"SELECT DISTINCT tls_fingerprint FROM events WHERE {OUTSIDE}"),
            "email-domain": _column(db, f"SELECT DISTINCT email_domain FROM accounts WHERE {OUTSIDE}"),
        }
        outside["email-hmac"] = outside["payment-hmac"] = {  # an ordinary account's keyed hashes: not either
            keyed_hash(PARTNER_KEY.encode(), v)
            for col in ("email_hash", "payment_fingerprint")
            for v in _column(db, f"SELECT DISTINCT {col} FROM accounts WHERE {OUTSIDE}")
        }
        private = set()
        for col in ("email_hash", "payment_fingerprint", "account_id", "org_id"):
            private |= _column(db, f"SELECT DISTINCT {col} FROM accounts")
    assert all(outside.values()) and private
    for path in exports.values():
        for _, _, ind in read_intel(path):
            assert ind.value not in outside.get(ind.kind, set()), (path.name, ind)
        tokens = {t for s in _strings(path) for t in [s, *re.findall(r"[\w.@+-]+", s)]}
        assert not private & tokens, path.name  # raw ids, e-mails, payments: never, not even our campaign's


def test_no_prompt_text_is_exported(providers: dict, exports: dict) -> None:
    """Every 40-character piece of every prompt the campaigns sent, and every masked template example, is
    absent from every export."""
    with DuckDBAPI(providers["a"].db, read_only=True) as db:
        texts = _column(
            db,
            """SELECT DISTINCT t FROM (
                 SELECT system_prompt AS t FROM events UNION ALL SELECT first_user_message FROM events
                 UNION ALL SELECT example_masked FROM templates)
               WHERE length(t) >= 40""",
        )
    pieces = {t[i : i + 40] for t in texts for i in range(0, len(t) - 39, 40)}
    assert len(pieces) > 1000
    for path in exports.values():
        windows = {s[i : i + 40] for s in _strings(path) for i in range(len(s) - 39)}
        assert not pieces & windows, path.name


def test_keyed_hashes_need_the_partner_key_and_differ_per_partner(providers: dict) -> None:
    a: Provider = providers["a"]
    with DuckDBAPI(a.db, read_only=True) as db:
        campaign = str(db.scalar("SELECT min(campaign_id) FROM campaigns"))
        raw = _column(db, "SELECT email_hash FROM accounts") | _column(db, "SELECT payment_fingerprint FROM accounts")
        keyless, k1, k2 = (
            campaign_intel(db, campaign, provider="a", tlp="red", partner_key=key)
            for key in (None, b"partner-one", b"partner-two")
        )
    assert not {i.kind for i in keyless.indicators} & {"email-hmac", "payment-hmac"}
    hashed1 = {i.value for i in k1.indicators if i.kind in ("email-hmac", "payment-hmac")}
    hashed2 = {i.value for i in k2.indicators if i.kind in ("email-hmac", "payment-hmac")}
    assert hashed1 and hashed2 and not hashed1 & hashed2 and not (hashed1 | hashed2) & raw
    assert len({i.key_id for i in k1.indicators if i.key_id} | {i.key_id for i in k2.indicators if i.key_id}) == 2


def test_export_refuses_without_a_tlp_choice(providers: dict, tmp_path: Path) -> None:
    out = tmp_path / "x.json"
    db = str(providers["a"].db)
    for extra in ([], ["--tlp", "white"]):
        result = CliRunner().invoke(app, ["export", "--campaign", "camp_0001", "--db", db, "--out", str(out), *extra])
        assert result.exit_code == 1
        assert result.stderr.count("\n") == 1 and "tlp" in result.stderr.lower()
        assert not out.exists()
