"""``simulate``: build the populations, then stream the scenario day by day into logs, accounts and truth.

Why day by day: at scale 1.0 a day is about a million requests; generating, sorting and writing one day
at a time (in batches of ``BATCH`` rows) keeps memory bounded by a day of integer columns, whatever the
scale. Every random draw comes from a generator seeded by (seed, population, day) or (seed, day, batch), so
the same seed gives the same bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import orjson

from distillguard.simulate import campaigns, content, identity, population
from distillguard.simulate.people import p429
from distillguard.simulate.rows import build_rows
from distillguard.simulate.scenarios import ALL_KNOBS, get_scenario
from distillguard.simulate.world import ACCOUNT_TYPES, Accounts, Block, Book
from distillguard.simulate.writer import FORMATS, LogWriter, Pipeline, account_ids, org_ids, payment_ids

BATCH = 65_536
DAY_MS = 86_400_000
Progress = Callable[[int, int, int], None]  # (days done, days in total, requests written so far)


@dataclass
class SimulationSummary:
    """What was written, how much of each role, and how long it took."""

    scenario: str
    scale: float
    seed: int
    format: str
    split: str
    out: str
    files: dict[str, str]
    accounts: int
    requests: int
    campaign_requests: int
    accounts_by_role: dict[str, int]
    requests_by_role: dict[str, int]
    expected_requests_by_role: dict[str, float]
    expected_campaign_requests: float
    seconds: float
    peak_day_requests: int = 0

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def to_dict(self) -> dict:
        return asdict(self) | {"requests_per_second": round(self.requests_per_second, 1)}


def simulate(
    scenario: str,
    scale: float,
    seed: int,
    out: Path,
    fmt: str = "jsonl",
    *,
    split: str = "test",
    extra_corpora: bool = False,
    progress: Progress | None = None,
    infra_seed: int | None = None,
) -> SimulationSummary:
    """Write ``out/logs.<fmt>``, ``out/accounts.jsonl`` and ``out/truth.jsonl`` (DESIGN §3.1-3.3).

    ``scenario`` is a name from ``scenarios.SCENARIOS`` optionally followed by ``+knob`` terms; ``split``
    chooses the prompt and template wording ("test" for evaluation, "train" to generate training traffic);
    ``extra_corpora`` adds the non-redistributable corpora when ``shared/data`` is present. ``infra_seed``
    (default: none, everything follows ``seed``) fixes the campaigns' infrastructure (proxy exits, clients)
    independently of ``seed``: two runs with different seeds and one infra seed are two providers attacked by
    the same actors through the same infrastructure, with different accounts and customers.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if scale <= 0:
        raise ValueError("scale must be positive")
    t0 = time.perf_counter()
    sc = get_scenario(scenario)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tables = content.Tables(split, extra_corpora)
    book = Book()
    segments: list = population.build(book, tables, sc, scale, seed)
    segments += campaigns.build(book, tables, sc, scale, seed, infra_seed)
    acc = book.finalize()
    for seg in segments:  # heavier accounts hit rate limits more often
        acc.col["p429"][seg.span] = np.maximum(acc.col["p429"][seg.span], p429(seg.daily_rate()))
    lens = _table_lengths(tables)
    start_ms = int(sc.start.timestamp() * 1000)
    release_ms = start_ms + int(sc.release_day * DAY_MS)
    total = np.zeros(acc.n, np.int64)
    harvest = np.zeros(acc.n, np.int64)
    first = np.full(acc.n, -1, np.int64)
    writer = LogWriter(out, fmt, tables, acc, seed)
    pipeline = Pipeline(writer)
    peak = 0
    try:
        for d in range(sc.days):
            day = Block.concat(
                [s.day(d, start_ms, np.random.default_rng([seed, 0xD0, i, d])) for i, s in enumerate(segments)]
            )
            order = np.argsort(day.ts, kind="stable")
            day = Block(day.acct[order], day.ts[order], day.campaign[order], day.profile[order])
            total += np.bincount(day.acct, minlength=acc.n)
            harvest += np.bincount(day.acct[day.campaign], minlength=acc.n)
            seen, at = np.unique(day.acct, return_index=True)
            new = first[seen] < 0
            first[seen[new]] = day.ts[at[new]]
            peak = max(peak, len(day.ts))
            for b, lo in enumerate(range(0, len(day.ts), BATCH)):
                part = Block(*(x[lo : lo + BATCH] for x in (day.acct, day.ts, day.campaign, day.profile)))
                rng = np.random.default_rng([seed, 0xD1, d, b])
                rows = build_rows(rng, acc, tables, lens, part, seed, release_ms, infra_seed)
                pipeline.submit(rows)
            if progress:
                progress(d + 1, sc.days, int(total.sum()))
        pipeline.finish()
    finally:
        pipeline.close()
        writer.close()
    _write_accounts(out / "accounts.jsonl", acc, seed)
    _write_truth(out / "truth.jsonl", acc, sc.campaigns, seed, total, harvest, first)
    roles = np.asarray(acc.roles)[acc.col["role"]] if acc.n else np.array([], dtype=str)
    expected: dict[str, float] = {}
    for seg in segments:
        expected[seg.role] = expected.get(seg.role, 0.0) + float(seg.expected)
    return SimulationSummary(
        scenario=sc.name,
        scale=scale,
        seed=seed,
        format=fmt,
        split=split,
        out=str(out),
        files={"logs": str(writer.path), "accounts": str(out / "accounts.jsonl"), "truth": str(out / "truth.jsonl")},
        accounts=acc.n,
        requests=int(total.sum()),
        campaign_requests=int(harvest.sum()),
        accounts_by_role={r: int((roles == r).sum()) for r in acc.roles},
        requests_by_role={r: int(total[roles == r].sum()) for r in acc.roles},
        expected_requests_by_role=expected,
        expected_campaign_requests=sum(s.expected_harvest for s in segments if isinstance(s, campaigns.Cells)),
        seconds=time.perf_counter() - t0,
        peak_day_requests=peak,
    )


def _table_lengths(t: content.Tables) -> dict[str, np.ndarray]:
    """UTF-8 byte lengths of every table entry, for the input-token estimate."""

    def lengths(texts: list[str]) -> np.ndarray:
        return np.array([len(x.encode()) for x in texts], dtype=np.int64)

    return {
        "sys": lengths(t.sys),
        "user": lengths(t.user),
        "wrap": lengths(["".join(w) for w in t.wraps]),
        "snippet": lengths(t.snippets),
        "tail": lengths([a for a, _ in t.tails]),
        "tools": lengths([a for a, _ in t.tools]),
    }


def _rfc3339(ms: np.ndarray) -> list[str]:
    return [s + "Z" for s in np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms").tolist()]


def _write_accounts(path: Path, acc: Accounts, seed: int) -> None:
    """DESIGN §3.2 fields plus ``email_pattern``, sorted by account id (population order never shows)."""
    c = acc.col
    ids = account_ids(acc, seed)
    orgs = org_ids(c["org"], seed)
    pays = payment_ids(c["payment"], seed)
    created = _rfc3339(c["created_ms"])
    with open(path, "wb") as f:
        for i in sorted(range(acc.n), key=ids.__getitem__):
            local, domain = acc.email_local[i], acc.email_domain[i]
            f.write(
                orjson.dumps(
                    {
                        "account_id": ids[i],
                        "created_at": created[i],
                        "account_type": ACCOUNT_TYPES[c["acct_type"][i]],
                        "org_id": orgs[i],
                        "email_domain": domain,
                        "email_hash": identity.email_hash(local, domain),
                        "payment_fingerprint": pays[i],
                        "country": identity.COUNTRY_CODES[c["country"][i]],
                        "verified": bool(c["verified"][i]),
                        "email_pattern": identity.email_pattern(local),
                    }
                )
                + b"\n"
            )


def _write_truth(
    path: Path,
    acc: Accounts,
    specs: tuple,
    seed: int,
    total: np.ndarray,
    harvest: np.ndarray,
    first: np.ndarray,
) -> None:
    """DESIGN §3.3 fields plus cell, evasion knobs, mixing ratio, request counts and first request time."""
    c = acc.col
    ids = account_ids(acc, seed)
    first_at = _rfc3339(np.maximum(first, 0))
    with open(path, "wb") as f:
        for i in sorted(range(acc.n), key=ids.__getitem__):
            camp = int(c["campaign"][i])
            spec = specs[camp] if camp >= 0 else None
            knobs = [k for j, k in enumerate(ALL_KNOBS) if c["knobs"][i] >> j & 1]
            f.write(
                orjson.dumps(
                    {
                        "account_id": ids[i],
                        "campaign_id": spec.campaign_id if spec else None,
                        "actor": spec.actor if spec else None,
                        "role": acc.roles[c["role"][i]],
                        "cell_id": f"{spec.campaign_id}/cell-{int(c['cell'][i]):03d}" if spec else None,
                        "evasion": knobs,
                        "mixing_ratio": round(float(c["mixing"][i]), 3),
                        "campaign_requests": int(harvest[i]),
                        "total_requests": int(total[i]),
                        "first_request_at": first_at[i] if first[i] >= 0 else None,
                    }
                )
                + b"\n"
            )
