"""The store's tables. Types are the portable subset (VARCHAR, BIGINT, INTEGER, DOUBLE, BOOLEAN, TIMESTAMP,
VARCHAR[], BLOB) so the same DDL and queries run on DuckDB and, transpiled, on Spark. Timestamps are UTC.
"""

from __future__ import annotations

from distillguard.engines.base import DatabaseAPI

EVENTS = """
CREATE TABLE IF NOT EXISTS events (
    request_id          VARCHAR NOT NULL,   -- idempotency key: a request is stored once
    ts                  TIMESTAMP NOT NULL, -- UTC
    account_id          VARCHAR NOT NULL,
    org_id              VARCHAR,
    api_key_id          VARCHAR,
    client_ip           VARCHAR,
    ip_version          TINYINT,
    ip_prefix           VARCHAR,            -- /24 (IPv4) or /48 (IPv6) network
    ip_class            VARCHAR,            -- tor | vpn | cloud | datacenter | private | other | invalid
    ip_provider         VARCHAR,            -- cloud provider when ip_class = 'cloud'
    user_agent          VARCHAR,
    ua_family           VARCHAR,            -- sdk | browser | crawler | cli | empty | other
    ua_sdk              VARCHAR,
    tls_fingerprint     VARCHAR,
    model               VARCHAR,
    endpoint            VARCHAR,
    body_dialect        VARCHAR,            -- anthropic | openai | unknown
    system_prompt       VARCHAR,
    first_user_message  VARCHAR,
    last_user_message   VARCHAR,            -- latest user message when there are several (NULL: single turn)
    message_count       INTEGER,
    user_turns          INTEGER,
    tool_names          VARCHAR[],
    tool_result_count   INTEGER,
    image_count         INTEGER,
    max_tokens          BIGINT,
    temperature         DOUBLE,
    stream              BOOLEAN,
    input_tokens        BIGINT,
    output_tokens       BIGINT,
    stop_reason         VARCHAR,
    status              INTEGER,
    response_chars      BIGINT,
    extra               VARCHAR,            -- JSON object of top-level fields the native format does not name
    warnings            VARCHAR[],          -- optional fields dropped for having the wrong type
    source_format       VARCHAR NOT NULL,
    source_file         VARCHAR NOT NULL,
    source_line         BIGINT NOT NULL,
    ingest_run_id       VARCHAR NOT NULL
)
"""

ACCOUNTS = """
CREATE TABLE IF NOT EXISTS accounts (
    account_id          VARCHAR NOT NULL,
    created_at          TIMESTAMP,
    account_type        VARCHAR,            -- individual | startup | education | research | enterprise | reseller
    org_id              VARCHAR,
    email_domain        VARCHAR,
    email_hash          VARCHAR,
    payment_fingerprint VARCHAR,
    country             VARCHAR,
    verified            BOOLEAN,
    extra               VARCHAR,
    warnings            VARCHAR[],
    source_file         VARCHAR NOT NULL,
    source_line         BIGINT NOT NULL,
    ingest_run_id       VARCHAR NOT NULL
)
"""

QUARANTINE = """
CREATE TABLE IF NOT EXISTS quarantine (
    source_file         VARCHAR NOT NULL,
    line_no             BIGINT NOT NULL,
    item                INTEGER NOT NULL,   -- index inside a record holding many requests (OTLP), else 0
    reason              VARCHAR NOT NULL,
    raw                 BLOB,               -- the line as read (first 64 KiB of an oversized line)
    raw_bytes           BIGINT,
    source_format       VARCHAR,
    ingest_run_id       VARCHAR NOT NULL
)
"""

INGEST_RUNS = """
CREATE TABLE IF NOT EXISTS ingest_runs (
    run_id              VARCHAR NOT NULL,
    started_at          TIMESTAMP NOT NULL,
    finished_at         TIMESTAMP,
    status              VARCHAR NOT NULL,   -- running | done | failed | interrupted
    paths               VARCHAR[],
    formats             VARCHAR[],
    lines_read          BIGINT,
    events_added        BIGINT,
    duplicates_skipped  BIGINT,
    quarantined         BIGINT,
    accounts_upserted   BIGINT,
    error               VARCHAR
)
"""

ALL_TABLES = [EVENTS, ACCOUNTS, QUARANTINE, INGEST_RUNS]


def create_tables(db: DatabaseAPI) -> None:
    """Create every store table that does not exist yet (safe to call on every run)."""
    for ddl in ALL_TABLES:
        db.execute(ddl)
