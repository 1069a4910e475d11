"""Autonomous systems as indicators, when the logs carry the client's ASN (`client_asn`, kept in `extra`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.intel import misp, stix
from distillguard.intel.indicators import campaign_intel

from .conftest import Provider, run

HOSTER_ASN = "64500"  # only the campaign's proxies sit in it
CLOUD_ASN = "16509"  # the campaign and ordinary customers alike


def _with_asns(provider: Provider, tmp_path: Path) -> tuple[Path, str]:
    db_path = provider.copy(tmp_path / "asn.duckdb")
    campaign = next(iter(provider.campaign_actor()))
    with DuckDBAPI(db_path) as db:
        db.execute(f"""UPDATE events SET extra = '{{"client_asn": {HOSTER_ASN}}}'
                       WHERE account_id IN (SELECT account_id FROM campaign_members WHERE campaign_id = '{campaign}')
                         AND hash(request_id) % 2 = 0""")
        db.execute(f"""UPDATE events SET extra = '{{"client_asn": {CLOUD_ASN}}}'
                       WHERE extra IS NULL AND hash(request_id) % 3 = 0""")
    return db_path, campaign


def test_only_an_asn_no_ordinary_customer_used_is_shared_and_it_survives_stix_and_misp(
    providers: dict[str, Provider], tmp_path: Path
) -> None:
    db_path, campaign = _with_asns(providers["a"], tmp_path)
    with DuckDBAPI(db_path, read_only=True) as db:
        intel = campaign_intel(db, campaign, provider="provider-a", tlp="amber")
    asns = [i for i in intel.indicators if i.kind == "autonomous-system"]
    assert [i.value for i in asns] == [HOSTER_ASN]
    assert asns[0].accounts > 0 and asns[0].requests > 0
    bundle = stix.to_bundle(intel).serialize()
    # Patterns, not the raw text: random STIX ids and hashes contain "16509" by chance (a failed substring test
    # also made pytest diff the whole bundle, which takes tens of minutes).
    patterns = re.findall(r"\[autonomous-system:number = (\d+)\]", bundle)
    assert patterns == [HOSTER_ASN]
    for parsed in (stix.parse_bundle(bundle), misp.parse_feed(misp.to_feed(intel))):
        assert [i.value for _, _, i in parsed if i.kind == "autonomous-system"] == [HOSTER_ASN]


def test_an_imported_asn_matches_the_accounts_that_used_it(providers: dict[str, Provider], tmp_path: Path) -> None:
    db_path, campaign = _with_asns(providers["a"], tmp_path)
    export = tmp_path / "asn.stix.json"
    run(
        "export",
        "--campaign",
        campaign,
        "--format",
        "stix",
        "--tlp",
        "green",
        "--db",
        str(db_path),
        "--out",
        str(export),
    )
    run("import", str(export), "--partner", "lab-x", "--db", str(db_path))
    with DuckDBAPI(db_path, read_only=True) as db:
        matched = (
            db.query("""SELECT DISTINCT account_id FROM intel_matches
                              WHERE kind = 'autonomous-system' AND value = '64500'""")
            .column(0)
            .to_pylist()
        )
        used = (
            db.query("""SELECT DISTINCT account_id FROM events
                           WHERE json_extract_string(extra, '$.client_asn') = '64500'""")
            .column(0)
            .to_pylist()
        )
    assert matched and sorted(matched) == sorted(used)
    assert json.loads(export.read_text())["type"] == "bundle"
