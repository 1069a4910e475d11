"""What the gateway knows about accounts: an immutable snapshot of the store, swapped whole on reload.

Why a snapshot: the gateway must never hold the DuckDB store open (ingest and detect write it), and the hot
path must do no database work. So the store is opened read-only for the time of one load, the `enforcement`
table, the API-key → account map and the fingerprints of templates used by campaign accounts are copied into
dicts and arrays, and the store is closed again. `SnapshotSource` reloads when the store file (or the key-map
file) changes; a failed load keeps the last good snapshot.

API keys: the gateway never stores or logs a secret. `key_id(secret, salt)` is what lands in `api_key_id`:
HMAC-SHA256 of the secret under the deployment's salt (first 24 hex digits), or, with no salt, the presented
key itself (for deployments whose clients already present a key *id*, e.g. behind an auth proxy). Because
the gateway writes that same `api_key_id` into its logs, `ingest` + `detect` learn the key → account map
from events; a key-map file (JSON Lines `{"api_key_id": ..., "account_id": ...}`) covers keys not seen yet.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import mmap
import os
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import orjson

from distillguard.gateway.signals import TemplateIndex

ACTIONS = ("none", "review", "throttle", "step_up", "suspend", "cluster_takedown")
BLOCKING = frozenset({"step_up", "suspend", "cluster_takedown"})


def key_id(secret: str, salt: bytes | None) -> str:
    """The identifier stored for an API key: keyed hash with a salt, the key itself without one."""
    if salt is None:
        return secret
    return hmac.new(salt, secret.encode(), hashlib.sha256).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class Decision:
    """One account's row of `enforcement`."""

    action: str
    score: float | None = None
    campaign_id: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Snapshot:
    """Everything the hot path reads. Never mutated: a reload builds a new one and swaps the reference."""

    decisions: dict[str, Decision]
    keys: dict[str, str]  # api_key_id -> account_id
    templates: TemplateIndex = field(default_factory=TemplateIndex.empty)
    loaded_at: float = field(default_factory=time.time)

    def decision(self, account_id: str) -> Decision:
        return self.decisions.get(account_id) or _ALLOW


_ALLOW = Decision("none")


def load_snapshot(db: Path, key_map: Path | None = None) -> Snapshot:
    """Read a snapshot from the store (read-only; raises duckdb.Error / OSError when it cannot be read)."""
    if not db.exists():
        raise FileNotFoundError(f"no store at {db}")
    con = duckdb.connect(str(db), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        decisions: dict[str, Decision] = {}
        if "enforcement" in tables:
            rows = con.execute("SELECT account_id, action, score, campaign_id, reason FROM enforcement").fetchall()
            for account, action, score, campaign, reason in rows:
                decisions[account] = Decision(action if action in ACTIONS else "review", score, campaign, reason or "")
        keys: dict[str, str] = {}
        if "events" in tables:
            rows = con.execute(
                "SELECT api_key_id, arg_max(account_id, ts) FROM events WHERE api_key_id IS NOT NULL GROUP BY 1"
            ).fetchall()
            keys.update(rows)
        templates = TemplateIndex.empty()
        if {"templates", "request_templates", "enforcement"} <= tables:
            templates = TemplateIndex.build(_campaign_templates(con))
    finally:
        con.close()
    if key_map is not None:
        keys.update(read_key_map(key_map))
    return Snapshot(decisions, keys, templates)


def _campaign_templates(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, np.ndarray]]:
    """(template_id, kind, example_masked, signature) of templates used by accounts in a campaign."""
    rows = con.execute("""
        WITH used AS (
          SELECT r.system_template AS template_id, r.account_id FROM request_templates r
          WHERE r.system_template IS NOT NULL
          UNION
          SELECT r.user_template, r.account_id FROM request_templates r WHERE r.user_template IS NOT NULL)
        SELECT DISTINCT t.template_id, t.kind, t.example_masked, t.signature
        FROM templates t JOIN used u USING (template_id) JOIN enforcement e USING (account_id)
        WHERE e.campaign_id IS NOT NULL ORDER BY 1""").fetchall()
    return [(tid, kind, example, np.frombuffer(sig, dtype="<u4")) for tid, kind, example, sig in rows]


def read_key_map(path: Path) -> dict[str, str]:
    """api_key_id -> account_id from a JSON Lines file; lines without both fields are skipped."""
    out: dict[str, str] = {}
    with path.open("rb") as f:
        for line in f:
            if not line.strip():
                continue
            rec = orjson.loads(line)
            if (
                isinstance(rec, dict)
                and isinstance(rec.get("api_key_id"), str)
                and isinstance(rec.get("account_id"), str)
            ):
                out[rec["api_key_id"]] = rec["account_id"]
    return out


class SnapshotSource:
    """Holds the current snapshot and reloads it when the store or key map changes on disk.

    `maybe_reload()` is cheap (a few `stat` calls) and is called from a background task; a load that fails
    (store locked by a writer, half-written, missing) leaves the last good snapshot in place and is retried.
    """

    def __init__(self, db: Path, key_map: Path | None = None) -> None:
        self.db = db
        self.key_map = key_map
        self.current: Snapshot | None = None
        self.last_error: str | None = None
        self.reloads = 0
        self._stamp: tuple | None = None

    def _files_stamp(self) -> tuple:
        files = [self.db, Path(str(self.db) + ".wal")] + ([self.key_map] if self.key_map else [])
        stamp = []
        for f in files:
            try:
                st = f.stat()
                stamp.append((st.st_mtime_ns, st.st_size))
            except OSError:
                stamp.append(None)
        return tuple(stamp)

    def maybe_reload(self) -> bool:
        """Load a new snapshot if the files changed since the last good load; True when one was swapped in."""
        stamp = self._files_stamp()
        if stamp == self._stamp and self.current is not None:
            return False
        try:
            snapshot = load_snapshot(self.db, self.key_map)
        except (duckdb.Error, OSError, ValueError) as e:
            self.last_error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
            return False
        self.current = snapshot  # one reference assignment: readers see the old or the new snapshot whole
        self._stamp = stamp
        self.last_error = None
        self.reloads += 1
        return True


class TokenBuckets:
    """Per-account token buckets for the `throttle` action: `rate` requests per second, bursts of `burst`."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._state: dict[str, tuple[float, float]] = {}

    def take(self, account_id: str, now: float | None = None) -> float:
        """0.0 when a request may pass (a token is spent), else the seconds until the next token."""
        now = time.monotonic() if now is None else now
        tokens, last = self._state.get(account_id, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._state[account_id] = (tokens - 1.0, now)
            return 0.0
        self._state[account_id] = (tokens, now)
        return (1.0 - tokens) / self.rate if self.rate > 0 else 3600.0


class SharedTokenBuckets(TokenBuckets):
    """The same buckets in a file that every worker process of one gateway maps (`--workers N`), so a throttled
    account gets `rate` across all workers rather than `rate` from each.

    The file is a table of `slots` entries (account fingerprint, tokens, time of last update); an account's
    entry is one of PROBES slots from its hash. A slot whose bucket has refilled to `burst` holds nothing a
    fresh bucket would not, so any account may take it over: the table never needs clearing. If all probed slots
    are busy (more accounts being throttled at once than the table holds), the account shares the first: it is
    throttled harder, never less. Each take holds an exclusive `flock` on the file for a few microseconds; only
    requests of throttled accounts come here. `time.monotonic` is the system's clock, the same in every process.
    """

    SLOT = struct.Struct("<Qdd")
    PROBES = 8

    def __init__(self, path: Path, rate: float, burst: float, slots: int = 1 << 16) -> None:
        super().__init__(rate, burst)
        self.slots = slots
        size = slots * self.SLOT.size
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        if os.fstat(self._fd).st_size < size:
            os.ftruncate(self._fd, size)  # zero-filled: fingerprint 0 is an empty slot
        self._map = mmap.mmap(self._fd, size)

    def take(self, account_id: str, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        fingerprint = int.from_bytes(hashlib.blake2b(account_id.encode(), digest_size=8).digest(), "little") or 1
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            offset, owner, tokens, last = self._find(fingerprint, now)
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            wait = 0.0
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                wait = (1.0 - tokens) / self.rate if self.rate > 0 else 3600.0
            self.SLOT.pack_into(self._map, offset, owner, tokens, now)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        return wait

    def _find(self, fingerprint: int, now: float) -> tuple[int, int, float, float]:
        """(offset, owner, tokens, last) of the account's slot: its own, else a free one (as a full bucket), else
        the first probed one, shared (its owner keeps it, and so finds what the sharers spent)."""
        free = None
        for i in range(self.PROBES):
            offset = (fingerprint + i) % self.slots * self.SLOT.size
            owner, tokens, last = self.SLOT.unpack_from(self._map, offset)
            if owner == fingerprint:
                return offset, owner, tokens, last
            if free is None and (owner == 0 or tokens + (now - last) * self.rate >= self.burst):
                free = offset
        if free is not None:
            return free, fingerprint, self.burst, now
        offset = fingerprint % self.slots * self.SLOT.size
        owner, tokens, last = self.SLOT.unpack_from(self._map, offset)
        return offset, owner, tokens, last

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)
