"""The `export`, `import` and `attribute` commands. ``register(app)`` adds them to the main command line.

Keys: the per-partner key for keyed hashes comes from `--partner-key` or the environment variable
`DISTILLGUARD_PARTNER_KEY`, never from a file we write. Without one, no e-mail or payment indicator is exported
and none imported can be matched.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from distillguard.intel.model import TLP_LEVELS  # not from stix: stix2 takes 0.1 s to import

console = Console(stderr=True)
DEFAULT_DB = Path("distillguard.duckdb")
KEY_ENV = "DISTILLGUARD_PARTNER_KEY"
DbOption = Annotated[Path, typer.Option("--db", help="DuckDB store file (after `distillguard detect`).")]
KeyOption = Annotated[
    str | None,
    typer.Option("--partner-key", envvar=KEY_ENV, help=f"Per-partner key for keyed hashes (or ${KEY_ENV})."),
]


def export_command(
    campaign: Annotated[str, typer.Option("--campaign", help="Campaign id, e.g. camp_0001.")],
    tlp: Annotated[str | None, typer.Option("--tlp", help=f"Required: one of {', '.join(TLP_LEVELS)}.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="stix (2.1 bundle) or misp (feed event).")] = "stix",
    db: DbOption = DEFAULT_DB,
    out: Annotated[Path | None, typer.Option("--out", help="Output file (default: standard output).")] = None,
    partner_key: KeyOption = None,
    provider: Annotated[str, typer.Option("--provider", help="Our name as the partner will see it.")] = "distillguard",
    limit: Annotated[int, typer.Option("--limit", help="At most this many indicators per kind.")] = 250,
) -> None:
    """Share one campaign's distinctive indicators as STIX 2.1 or a MISP feed (refuses without --tlp)."""
    from distillguard.cli import fail, open_store
    from distillguard.intel import misp, stix
    from distillguard.intel.indicators import campaign_intel

    if tlp is None:
        fail(f"--tlp is required: choose who may see this export ({', '.join(TLP_LEVELS)})")
    if tlp not in TLP_LEVELS:
        fail(f"unknown TLP level {tlp!r}; expected one of {', '.join(TLP_LEVELS)}")
    if fmt not in ("stix", "misp"):
        fail(f"unknown format {fmt!r}; expected stix or misp")
    if not db.exists():
        fail(f"no store at {db}; run `distillguard ingest` and `distillguard detect` first")
    key = partner_key.encode() if partner_key else None
    with open_store(db, read_only=True) as store:
        if not store.table_exists("campaign_members"):
            fail(f"{db} has no campaigns; run `distillguard detect` first")
        try:
            intel = campaign_intel(store, campaign, provider=provider, tlp=tlp, partner_key=key, limit=limit)
        except LookupError as e:
            fail(str(e))
    text = stix.to_bundle(intel).serialize(indent=1) if fmt == "stix" else json.dumps(misp.to_feed(intel), indent=1)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n", encoding="utf-8")
        kinds = sorted({i.kind for i in intel.indicators})
        console.print(f"{len(intel.indicators)} indicators ({', '.join(kinds)}) at TLP:{tlp.upper()} → {out}")


def import_command(
    path: Annotated[Path, typer.Argument(help="A partner's STIX 2.1 bundle or MISP feed event (JSON).")],
    partner: Annotated[str, typer.Option("--partner", help="Who sent it (recorded with every match).")],
    db: DbOption = DEFAULT_DB,
    partner_key: KeyOption = None,
) -> None:
    """Read a partner's indicators and match them against our accounts and campaigns."""
    from distillguard.cli import fail, open_store
    from distillguard.intel.partners import match_intel, read_intel, store_intel

    if not db.exists():
        fail(f"no store at {db}; run `distillguard ingest` and `distillguard detect` first")
    try:
        rows = read_intel(path)
    except (OSError, ValueError) as e:  # json.JSONDecodeError and stix2 parse errors are ValueErrors
        fail(f"cannot read {path}: {str(e).splitlines()[0]}")
    key = partner_key.encode() if partner_key else None
    with open_store(db) as store:
        n = store_intel(store, rows, partner, "partner")
        try:
            match_intel(store, key)
        except LookupError as e:
            fail(str(e))
        found = store.query(f"""
            SELECT count(DISTINCT account_id) FILTER (WHERE campaign_id IS NOT NULL) AS in_campaigns,
                   count(DISTINCT account_id) FILTER (WHERE campaign_id IS NULL) AS outside,
                   count(DISTINCT campaign_id) AS campaigns
            FROM intel_matches WHERE source = '{partner.replace("'", "''")}'""").to_pylist()[0]
    console.print(
        f"{n} indicators read from {path.name}; all of {partner}'s indicators now match {found['in_campaigns']} "
        f"accounts in {found['campaigns']} campaign(s) and {found['outside']} accounts outside any campaign "
        "(tables intel_matches, campaign_evidence)"
    )


def attribute_command(
    db: DbOption = DEFAULT_DB,
    actors: Annotated[Path | None, typer.Option("--actors", help="Actor registry JSON (docs/intel.md).")] = None,
    partner_key: KeyOption = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print the attribution as JSON.")] = False,
) -> None:
    """Give every campaign its best-matching actor with a confidence level (low, moderate, high) and reasons."""
    from distillguard.cli import fail, open_store
    from distillguard.intel.actors import attribute, load_registry

    if not db.exists():
        fail(f"no store at {db}; run `distillguard ingest` and `distillguard detect` first")
    try:
        registry = load_registry(actors)
    except (OSError, ValueError, KeyError, TypeError) as e:
        fail(f"cannot read actor registry {actors}: {e}")
    with open_store(db) as store:
        try:
            rows = attribute(store, registry, partner_key.encode() if partner_key else None)
        except LookupError as e:
            fail(str(e))
    if json_out:
        typer.echo(json.dumps(rows, indent=1))
        return
    for r in rows:
        console.print(f"{r['campaign_id']}: {r['actor']} ({r['confidence']}) — {r['reasons'][0]}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add `export`, `import` and `attribute` to the application."""
    app.command("export")(export_command)
    app.command("import")(import_command)
    app.command("attribute")(attribute_command)
