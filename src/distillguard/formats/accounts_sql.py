"""Accounts records (DESIGN §3.2) → rows of `accounts`; same approach as `native_sql`."""

from __future__ import annotations

from distillguard.formats.native_sql import MAX_TS, _json_kind, _required_id

ACCOUNT_TYPES = ("individual", "startup", "education", "research", "enterprise", "reseller")
_STRING_FIELDS = ("org_id", "email_domain", "email_hash", "payment_fingerprint", "country")
KNOWN = ("account_id", "created_at", "account_type", "verified", *_STRING_FIELDS)
_STRUCTURE = "{" + ", ".join(f'"{k}": "JSON"' for k in KNOWN) + "}"


def accounts_sql(lines: str) -> str:
    """Statement turning `{lines}(line_no, line)` into `accounts` columns + `reject_reason`."""
    strings = ",\n    ".join(
        f"CASE WHEN json_type(r.{f}) IN ('VARCHAR', 'UBIGINT', 'BIGINT') THEN r.{f}->>'$' END AS {f}"
        for f in _STRING_FIELDS
    )
    types = ", ".join(f"'{t}'" for t in ACCOUNT_TYPES)
    known = ", ".join(f"'{k}'" for k in KNOWN)
    warnings = [
        *(
            f"CASE WHEN json_type(r.{f}) NOT IN ('VARCHAR', 'UBIGINT', 'BIGINT', 'NULL') "
            f"THEN '{f}: expected string, got ' || {_json_kind(f'json_type(r.{f})')} END"
            for f in _STRING_FIELDS
        ),
        "CASE WHEN r.created_at IS NOT NULL AND json_type(r.created_at) <> 'NULL' AND created IS NULL "
        "THEN 'created_at: not a valid time' END",
        "CASE WHEN json_type(r.verified) NOT IN ('BOOLEAN', 'NULL') THEN 'verified: expected boolean, got ' "
        f"|| {_json_kind('json_type(r.verified)')} END",
        f"CASE WHEN r.account_type->>'$' NOT IN ({types}) THEN 'account_type: unknown value ' "
        "|| left(r.account_type->>'$', 40) END",
    ]
    return f"""
WITH parsed AS (
  SELECT line_no, line, json_valid(line) AS valid, CASE WHEN json_valid(line) THEN json_type(line) END AS jtype
  FROM {lines}
), typed AS (
  SELECT *,
         CASE WHEN jtype = 'OBJECT' THEN json_transform(line, '{_STRUCTURE}') END AS r,
         CASE WHEN jtype = 'OBJECT' THEN json_keys(line) END AS top_keys
  FROM parsed
), timed AS (
  SELECT *,
    CASE WHEN json_type(r.created_at) = 'VARCHAR'
           THEN try_cast(try_cast(r.created_at->>'$' AS TIMESTAMPTZ) AS TIMESTAMP)
         WHEN json_type(r.created_at) IN ('UBIGINT', 'BIGINT')
           THEN try(make_timestamp(try_cast(r.created_at->>'$' AS BIGINT) * 1000))
    END AS created
  FROM typed
)
SELECT line_no,
  CASE
    WHEN NOT valid THEN 'invalid JSON'
    WHEN jtype <> 'OBJECT' THEN 'not an object: the record is a JSON ' || {_json_kind("jtype")}
    {_required_id("account_id")}
  END AS reject_reason,
  r.account_id->>'$' AS account_id,
  CASE WHEN created < TIMESTAMP '{MAX_TS}' THEN created END AS created_at,
  CASE WHEN json_type(r.account_type) = 'VARCHAR' THEN r.account_type->>'$' END AS account_type,
  {strings},
  CASE WHEN json_type(r.verified) = 'BOOLEAN' THEN CAST(r.verified->>'$' AS BOOLEAN) END AS verified,
  CASE WHEN len(list_filter(top_keys, lambda k: k NOT IN ({known}))) > 0 THEN
    CAST(to_json(map_from_entries(list_filter(
            map_entries(CAST(CAST(line AS JSON) AS MAP(VARCHAR, JSON))), lambda e: e.key NOT IN ({known}))))
        AS VARCHAR)
  END AS extra,
  list_filter([{", ".join(warnings)}], lambda w: w IS NOT NULL) AS warnings
FROM timed
"""
