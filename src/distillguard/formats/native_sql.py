"""Native records (DESIGN §3.1) → rows of `events`, in one SQL statement.

Each record is parsed for its top-level keys and into a struct (`json_transform`), message contents coming out
as text; required fields are checked in order and the first failure becomes the quarantine reason; optional
fields of the wrong type are dropped with a warning rather than costing the whole request. The statement reads
a table `{lines}(line_no, item, line)` and yields the `events` columns that come from the record itself plus
`reject_reason`.
"""

from __future__ import annotations

# Plausible request times. Outside this window a timestamp is a bug upstream (epoch seconds where
# milliseconds are expected, a zeroed clock), not an API request.
MIN_TS = "2015-01-01"
MAX_TS = "2100-01-01"

KNOWN_TOP_LEVEL = (
    "request_id",
    "timestamp",
    "account_id",
    "org_id",
    "api_key_id",
    "client_ip",
    "user_agent",
    "tls_fingerprint",
    "model",
    "endpoint",
    "request",
    "response",
    "status",
)

# Required ids and the timestamp stay JSON so their type can be checked; optional scalars come out as text
# and are cast, so one parse serves them all and a bad value costs a warning, not the request.
_STRUCTURE = """{
  "request_id": "JSON", "timestamp": "JSON", "account_id": "JSON", "org_id": "VARCHAR", "api_key_id": "VARCHAR",
  "client_ip": "VARCHAR", "user_agent": "VARCHAR", "tls_fingerprint": "VARCHAR", "model": "VARCHAR",
  "endpoint": "VARCHAR", "status": "VARCHAR",
  "request": {"system": "JSON", "messages": [{"role": "VARCHAR", "content": "VARCHAR"}],
              "tools": [{"name": "VARCHAR", "type": "VARCHAR", "function": {"name": "VARCHAR"}}],
              "max_tokens": "VARCHAR", "temperature": "VARCHAR", "stream": "VARCHAR", "model": "VARCHAR"},
  "response": {"text": "VARCHAR", "input_tokens": "VARCHAR", "output_tokens": "VARCHAR", "stop_reason": "VARCHAR",
               "content": [{"type": "VARCHAR", "text": "VARCHAR"}],
               "choices": [{"message": {"content": "VARCHAR"}}]}
}"""

_IMAGE_TYPES = "('image', 'image_url', 'input_image')"
_RAW_CONTENTS = '{"request": {"messages": [{"content": "JSON"}]}}'
_BLOCKS = '[{"type": "VARCHAR", "text": "VARCHAR"}]'
# A content read as text that could be JSON other than a string: cheap tests first, a parse only for those.
_LOOKS_LIKE_JSON = (
    "(left(m.content, 1) IN ('[', '{', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9') "
    "AND json_valid(m.content)) OR m.content IN ('true', 'false')"
)


def _text_of(expr: str) -> str:
    """Text of a content value: a string, or the text blocks of a content-block list joined by newlines."""
    return (
        f"CASE json_type({expr}) WHEN 'VARCHAR' THEN {expr}->>'$' "
        f"WHEN 'ARRAY' THEN array_to_string({expr}->>'$[*].text', chr(10)) END"
    )


_STR = "('VARCHAR', 'UBIGINT', 'BIGINT')"
_INT = "('UBIGINT', 'BIGINT')"

# column: (path in the record, SQL type); text fields take any scalar as its text.
_OPTIONAL = {
    "org_id": ("org_id", "VARCHAR"),
    "api_key_id": ("api_key_id", "VARCHAR"),
    "client_ip": ("client_ip", "VARCHAR"),
    "user_agent": ("user_agent", "VARCHAR"),
    "tls_fingerprint": ("tls_fingerprint", "VARCHAR"),
    "endpoint": ("endpoint", "VARCHAR"),
    "status": ("status", "INTEGER"),
    "max_tokens": ("request.max_tokens", "BIGINT"),
    "temperature": ("request.temperature", "DOUBLE"),
    "stream": ("request.stream", "BOOLEAN"),
    "input_tokens": ("response.input_tokens", "BIGINT"),
    "output_tokens": ("response.output_tokens", "BIGINT"),
    "stop_reason": ("response.stop_reason", "VARCHAR"),
}


def _opt_value(path: str, sql_type: str) -> str:
    x = f"r.{path}"
    if sql_type == "VARCHAR":  # an object or list given for a text field is dropped (with a warning)
        return f"CASE WHEN NOT (left({x}, 1) IN ('{{', '[') AND json_valid({x})) THEN {x} END"
    if sql_type == "BOOLEAN":
        return f"CASE {x} WHEN 'true' THEN true WHEN 'false' THEN false END"
    if sql_type == "DOUBLE":
        return f"try_cast({x} AS DOUBLE)"
    # Integers: a fractional number is wrong, not something to round.
    return f"CASE WHEN try_cast({x} AS DOUBLE) = try_cast({x} AS {sql_type}) THEN try_cast({x} AS {sql_type}) END"


def _opt_warning(path: str, sql_type: str) -> str:
    expected = {"VARCHAR": "string", "BOOLEAN": "boolean", "DOUBLE": "number"}.get(sql_type, "integer")
    return (
        f"CASE WHEN r.{path} IS NOT NULL AND ({_opt_value(path, sql_type)}) IS NULL "
        f"THEN '{path}: expected {expected}, got ' || left(r.{path}, 40) END"
    )


def _json_kind(expr: str) -> str:
    """JSON's own name for a DuckDB JSON type name (UBIGINT → number)."""
    return (
        f"CASE {expr} WHEN 'VARCHAR' THEN 'string' WHEN 'BOOLEAN' THEN 'boolean' WHEN 'ARRAY' THEN 'array' "
        f"WHEN 'NULL' THEN 'null' WHEN 'OBJECT' THEN 'object' ELSE 'number' END"
    )


def _required_id(name: str) -> str:
    return (
        f"WHEN r.{name} IS NULL OR json_type(r.{name}) = 'NULL' THEN 'missing field: {name}' "
        f"WHEN json_type(r.{name}) NOT IN {_STR} THEN "
        f"'wrong type: {name} must be a string or integer, got ' || {_json_kind(f'json_type(r.{name})')} "
        f"WHEN trim(r.{name}->>'$') = '' THEN 'missing field: {name} is empty' "
    )


def normalise_sql(lines: str, dialect: str | None = None) -> str:
    """The statement turning `lines` into event columns + `reject_reason` (NULL for a good record).

    `dialect` pins the request body dialect ('anthropic' or 'openai'); None infers it per record.
    """
    optional_values = ",\n    ".join(f"{_opt_value(path, t)} AS {col}" for col, (path, t) in _OPTIONAL.items())
    optional_warnings = ", ".join(
        _opt_warning(path, t) for path, t in [*_OPTIONAL.values(), ("model", "VARCHAR"), ("request.model", "VARCHAR")]
    )
    known = ", ".join(f"'{k}'" for k in KNOWN_TOP_LEVEL)
    body_dialect = (
        f"'{dialect}'"
        if dialect
        else (
            "CASE WHEN list_has_any(list_transform(msgs, lambda m: m.role), ['system', 'developer', 'tool']) "
            "OR len(list_filter(tool_list, lambda t: t.function IS NOT NULL)) > 0 THEN 'openai' "
            "WHEN r.request.system IS NOT NULL "
            "OR len(list_filter(tool_list, lambda t: t.name IS NOT NULL)) > 0 THEN 'anthropic' "
            "ELSE 'unknown' END"
        )
    )
    return f"""
WITH parsed AS (
  -- json_keys doubles as the validity check (NULL: not JSON; empty: not an object, or an empty one), so a
  -- good record is parsed twice in all: for its keys and into the struct.
  SELECT line_no, item, line, try(json_keys(line)) AS top_keys
  FROM {lines}
), typed AS (
  SELECT *, CASE WHEN len(top_keys) > 0 THEN json_transform(line, '{_STRUCTURE}') END AS r
  FROM parsed
), checked AS (
  SELECT *,
    CASE WHEN r.timestamp IS NULL THEN NULL
         WHEN json_type(r.timestamp) = 'VARCHAR'
              THEN try_cast(try_cast(r.timestamp->>'$' AS TIMESTAMPTZ) AS TIMESTAMP)
         WHEN json_type(r.timestamp) IN {_INT}
              THEN try(make_timestamp(try_cast(r.timestamp->>'$' AS BIGINT) * 1000))
    END AS ts,
    r.request.messages AS msgs,
    r.request.tools AS tool_list
  FROM typed
), judged AS (
  SELECT *,
    CASE
      WHEN top_keys IS NULL THEN 'invalid JSON'
      WHEN len(top_keys) = 0 THEN CASE json_type(line) WHEN 'OBJECT' THEN 'missing field: request_id'
                                  ELSE 'not an object: the record is a JSON ' || {_json_kind("json_type(line)")} END
      {_required_id("request_id")}
      {_required_id("account_id")}
      WHEN r.timestamp IS NULL OR json_type(r.timestamp) = 'NULL' THEN 'missing field: timestamp'
      WHEN json_type(r.timestamp) NOT IN ('VARCHAR', 'UBIGINT', 'BIGINT')
           THEN 'wrong type: timestamp must be an RFC 3339 string or epoch milliseconds, got '
                || {_json_kind("json_type(r.timestamp)")}
      WHEN ts IS NULL THEN 'bad timestamp: ' || left(r.timestamp, 60) || ' is not a valid RFC 3339 time'
      WHEN ts < TIMESTAMP '{MIN_TS}' OR ts >= TIMESTAMP '{MAX_TS}' THEN
           'bad timestamp: ' || left(r.timestamp, 60) || ' is outside {MIN_TS}..{MAX_TS}'
           || CASE WHEN json_type(r.timestamp) <> 'VARCHAR' AND ts < TIMESTAMP '1971-01-01'
                   THEN ' (epoch seconds given where milliseconds are expected?)' ELSE '' END
      WHEN r.request IS NULL THEN CASE WHEN list_contains(top_keys, 'request')
                                       THEN 'wrong type: request must be an object' ELSE 'missing field: request' END
      WHEN msgs IS NULL THEN CASE WHEN json_type(line, '$.request') <> 'OBJECT'
                                  THEN 'wrong type: request must be an object'
                                  WHEN json_exists(line, '$.request.messages')
                                  THEN 'wrong type: request.messages must be a list'
                                  ELSE 'missing field: request.messages' END
    END AS reject_reason
  FROM checked
), typed_msgs AS (
  -- Contents are most of the bytes, so they come out of the one parse as text: a string as itself, anything
  -- else as its JSON. Only a content whose text is itself JSON can be either; for a record holding one, the
  -- contents' JSON is read once more and its first character tells a string from a list of blocks.
  SELECT *, CASE WHEN list_bool_or(list_transform(msgs, lambda m: {_LOOKS_LIKE_JSON}))
                 THEN list_transform(json_transform(line, '{_RAW_CONTENTS}').request.messages,
                                     lambda m: left(m.content, 1))
            END AS content_starts
  FROM judged
), blocks AS (
  SELECT *, list_transform(msgs, lambda m, i: CASE
              WHEN content_starts[i] = '[' THEN json_transform(m.content, '{_BLOCKS}') END) AS msg_blocks
  FROM typed_msgs
), texts AS (
  SELECT *,
    list_transform(msgs, lambda m, i: CASE
      WHEN content_starts[i] = '[' THEN struct_pack(
          role := m.role, text := array_to_string(list_transform(msg_blocks[i], lambda b: b.text), chr(10)),
          images := len(list_filter(msg_blocks[i], lambda b: b.type IN {_IMAGE_TYPES})),
          tool_results := CASE WHEN m.role = 'tool' THEN 1
                               ELSE len(list_filter(msg_blocks[i], lambda b: b.type = 'tool_result')) END)
      ELSE struct_pack(  -- a string; a number or an object is no text
          role := m.role, text := CASE WHEN coalesce(content_starts[i], '"') = '"' THEN m.content END,
          images := 0, tool_results := CASE WHEN m.role = 'tool' THEN 1 ELSE 0 END)
    END) AS mt
  FROM blocks
), user_texts AS (
  SELECT *, list_filter(list_transform(mt, lambda m: CASE WHEN m.role = 'user' THEN m.text END),
                        lambda t: t IS NOT NULL AND t <> '') AS ut
  FROM texts
)
SELECT
    line_no, item, reject_reason,
    r.request_id->>'$' AS request_id,
    ts,
    r.account_id->>'$' AS account_id,
    {optional_values},
    coalesce({_opt_value("model", "VARCHAR")}, {_opt_value("request.model", "VARCHAR")}) AS model,
    {body_dialect} AS body_dialect,
    nullif(concat_ws(chr(10),
        {_text_of("r.request.system")},
        nullif(array_to_string(list_transform(list_filter(mt, lambda m: m.role IN ('system', 'developer')),
                                              lambda m: m.text), chr(10)), '')), '') AS system_prompt,
    ut[1] AS first_user_message,
    CASE WHEN len(ut) > 1 THEN ut[-1] END AS last_user_message,  -- single-turn: the first is the last
    CAST(len(msgs) AS INTEGER) AS message_count,
    CAST(len(ut) AS INTEGER) AS user_turns,
    list_filter(list_transform(tool_list, lambda t: coalesce(t.name, t.function.name)),
                lambda n: n IS NOT NULL) AS tool_names,
    CAST(coalesce(list_sum(list_transform(mt, lambda m: m.tool_results)), 0) AS INTEGER) AS tool_result_count,
    CAST(coalesce(list_sum(list_transform(mt, lambda m: m.images)), 0) AS INTEGER) AS image_count,
    CAST(length(coalesce(r.response.text,
        array_to_string(list_transform(r.response.content, lambda b: b.text), ''),
        r.response.choices[1].message.content)) AS BIGINT) AS response_chars,
    CASE WHEN len(list_filter(top_keys, lambda k: k NOT IN ({known}))) > 0 THEN
        CAST(to_json(map_from_entries(list_filter(
            map_entries(CAST(CAST(line AS JSON) AS MAP(VARCHAR, JSON))), lambda e: e.key NOT IN ({known}))))
        AS VARCHAR)
    END AS extra,
    list_filter([{optional_warnings}], lambda w: w IS NOT NULL) AS warnings
FROM user_texts
"""
