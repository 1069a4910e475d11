"""Partners' network prefixes match our addresses by containment, whatever their length or spelling."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.intel.model import Indicator
from distillguard.intel.partners import match_intel, store_intel
from distillguard.store.ingest import ingest

ADDRESSES = {  # account -> the one address it sends from
    "acct_a": "198.51.100.7",
    "acct_b": "198.51.103.250",  # same /22 as acct_a, another /24
    "acct_c": "203.0.113.9",
    "acct_d": "2001:db8:abcd:12::5",
    "acct_e": "::ffff:192.0.2.44",  # IPv4-mapped: the IPv4 address
    "acct_f": "not an address",
}


def _matches(tmp_path: Path, prefixes: list[str]) -> dict[str, set[str]]:
    """prefix -> accounts it matched, over a real store holding one request per account."""
    logs = tmp_path / "logs.jsonl"
    logs.write_bytes(
        b"".join(
            orjson.dumps(
                {
                    "request_id": f"r{i}",
                    "timestamp": 1_770_000_000_000 + i,
                    "account_id": account,
                    "client_ip": ip,
                    "request": {"messages": [{"role": "user", "content": "hi"}]},
                }
            )
            + b"\n"
            for i, (account, ip) in enumerate(ADDRESSES.items())
        )
    )
    with DuckDBAPI(tmp_path / "store.duckdb") as db:
        ingest(db, [logs])
        # the detection tables match_intel reads, empty: these accounts are in no campaign
        db.execute("CREATE TABLE campaign_members (campaign_id VARCHAR, account_id VARCHAR)")
        db.execute("CREATE TABLE templates (template_id VARCHAR, signature BLOB)")
        db.execute(
            "CREATE TABLE request_templates (account_id VARCHAR, system_template VARCHAR, user_template VARCHAR)"
        )
        store_intel(db, [("Actor X", "camp-1", Indicator("ip-prefix", p)) for p in prefixes], "lab-b", "partner")
        match_intel(db)
        rows = db.query("SELECT value, account_id FROM intel_matches WHERE kind = 'ip-prefix'").to_pylist()
    out: dict[str, set[str]] = {p: set() for p in prefixes}
    for r in rows:
        out[r["value"]].add(r["account_id"])
    return out


@pytest.mark.parametrize(
    ("prefix", "accounts"),
    [
        ("198.51.100.0/24", {"acct_a"}),  # our own /24s: as before
        ("198.51.100.0/22", {"acct_a", "acct_b"}),  # wider than /24
        ("198.51.0.0/16", {"acct_a", "acct_b"}),
        ("198.51.100.7/32", {"acct_a"}),  # one host
        ("198.51.100.8/32", set()),
        ("198.51.100.7/24", {"acct_a"}),  # host bits set: the network it names
        (" 203.0.113.0/24 ", {"acct_c"}),  # stray whitespace
        ("2001:db8:abcd::/48", {"acct_d"}),
        ("2001:db8::/32", {"acct_d"}),
        ("2001:db8:abce::/48", set()),
        ("192.0.2.0/24", {"acct_e"}),  # an IPv4-mapped IPv6 client is its IPv4 address
        ("10.0.0.0/8", set()),
        ("not a prefix", set()),
    ],
)
def test_a_prefix_matches_the_accounts_whose_addresses_it_contains(
    tmp_path: Path, prefix: str, accounts: set[str]
) -> None:
    assert _matches(tmp_path, [prefix])[prefix] == accounts


def test_overlapping_prefixes_each_match(tmp_path: Path) -> None:
    got = _matches(tmp_path, ["198.51.100.0/24", "198.51.100.0/22", "203.0.113.0/24"])
    assert got == {
        "198.51.100.0/24": {"acct_a"},
        "198.51.100.0/22": {"acct_a", "acct_b"},
        "203.0.113.0/24": {"acct_c"},
    }
