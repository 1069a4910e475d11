"""Each evasion knob removes exactly the tell it is named for (and the tell is there without it).

Every test measures one tell on ``standard`` and on ``standard+<knob>``: the baseline assertion shows the
tell exists (so the test can fail), the knob assertion shows it is gone.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime
from statistics import median

import numpy as np
import pytest

from distillguard.enrich.network import NetworkClassifier
from distillguard.simulate.scenarios import SCENARIOS

from .conftest import SMALL, Run, Runs

CAP = SCENARIOS["standard"].evasion.daily_cap


@pytest.fixture(scope="module")
def base(small: Run) -> Run:
    return small


def knob(runs: Runs, name: str) -> Run:
    return runs.get(f"standard+{name}", scale=SMALL)


def _campaign(run: Run) -> set[str]:
    return {a for a, t in run.truth.items() if t["role"] == "campaign"}


def _accounts_per_ip(run: Run) -> Counter:
    owners: dict[str, set[str]] = defaultdict(set)
    for r in run.campaign_logs():
        owners[r["client_ip"]].add(r["account_id"])
    return Counter({ip: len(a) for ip, a in owners.items()})


def test_residential_rotation_removes_shared_and_hosting_addresses(base: Run, runs: Runs) -> None:
    clf = NetworkClassifier.default()
    assert max(_accounts_per_ip(base).values()) >= 2
    assert {"datacenter", "vpn"} & set(clf.classify(list(_accounts_per_ip(base))).column("ip_class").to_pylist())
    run = knob(runs, "residential_rotation")
    per_ip = _accounts_per_ip(run)
    assert max(per_ip.values()) == 1  # no address is used by two campaign accounts
    assert set(clf.classify(list(per_ip)).column("ip_class").to_pylist()) == {"other"}


def _system_owners(run: Run) -> Counter:
    owners: dict[str, set[str]] = defaultdict(set)
    for i in run.campaign_rows(harvest_only=True):
        body = run.body(i)
        text = body.get("system") or (body["messages"][0]["content"] if body["messages"][0]["role"] == "system" else "")
        owners[text].add(run.logs[i]["account_id"])
    return Counter({s: len(a) for s, a in owners.items() if s})


def test_paraphrased_templates_give_every_account_its_own_wording(base: Run, runs: Runs) -> None:
    assert max(_system_owners(base).values()) >= 3
    owners = _system_owners(knob(runs, "paraphrased_templates"))
    assert owners and max(owners.values()) == 1


def _max_per_account_day(run: Run) -> int:
    return max(Counter((r["account_id"], r["timestamp"][:10]) for r in run.campaign_logs()).values())


def test_slow_and_low_caps_daily_volume(base: Run, runs: Runs) -> None:
    assert _max_per_account_day(base) > CAP
    run = knob(runs, "slow_and_low")
    assert _max_per_account_day(run) <= CAP
    assert len(_campaign(run)) > len(_campaign(base))  # the volume moves to more accounts


def _busiest_half_day_share(run: Run) -> float:
    """Median over campaign accounts of the share of requests in the busiest 12 consecutive UTC hours."""
    hours: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(24))
    for r in run.campaign_logs():
        hours[r["account_id"]][int(r["timestamp"][11:13])] += 1
    shares = [max(np.roll(h, -k)[:12].sum() for k in range(24)) / h.sum() for h in hours.values() if h.sum() >= 30]
    return median(shares)


def test_human_timing_replaces_round_the_clock_streams(base: Run, runs: Runs) -> None:
    assert _busiest_half_day_share(base) < 0.7  # a load balancer runs around the clock
    assert _busiest_half_day_share(knob(runs, "human_timing")) > 0.8  # people work in their daytime


def _max_accounts_per_payment(run: Run) -> int:
    return max(Counter(run.accounts[a]["payment_fingerprint"] for a in _campaign(run)).values())


def test_no_shared_payment(base: Run, runs: Runs) -> None:
    assert _max_accounts_per_payment(base) >= 2
    assert _max_accounts_per_payment(knob(runs, "no_shared_payment")) == 1


def _fingerprints_per_cell(run: Run) -> list[tuple[int, int]]:
    """(accounts, distinct user-agent + TLS pairs) per campaign cell."""
    pairs: dict[str, set] = defaultdict(set)
    for r in run.campaign_logs():
        pairs[run.truth[r["account_id"]]["cell_id"]].add((r["user_agent"], r["tls_fingerprint"]))
    return [(len(run.by_cell()[c]), len(p)) for c, p in pairs.items()]


def test_fingerprint_diversity(base: Run, runs: Runs) -> None:
    assert all(n == 1 for _, n in _fingerprints_per_cell(base))  # one scripted client per cell
    cells = _fingerprints_per_cell(knob(runs, "fingerprint_diversity"))
    assert all(n > 1 for size, n in cells if size >= 4)
    assert sum(n for _, n in cells) >= 0.4 * sum(size for size, _ in cells)


def _signup_shape(run: Run) -> list[tuple[float, float]]:
    """(sign-up span in days, share of the most common e-mail pattern) per campaign cell of 6+ accounts."""
    out = []
    for accounts in run.by_cell().values():
        if len(accounts) < 6:
            continue
        created = [datetime.fromisoformat(run.accounts[a]["created_at"].replace("Z", "+00:00")) for a in accounts]
        patterns = Counter(run.accounts[a]["email_pattern"] for a in accounts)
        span = (max(created) - min(created)).total_seconds() / 86400
        out.append((span, patterns.most_common(1)[0][1] / len(accounts)))
    return out


def test_staggered_signups_remove_bursts_and_patterns(base: Run, runs: Runs) -> None:
    assert all(span <= 8 / 24 and share >= 0.8 for span, share in _signup_shape(base))
    cells = _signup_shape(knob(runs, "staggered_signups"))
    assert cells and all(span >= 30 and share < 0.7 for span, share in cells)


def _harvest_share(run: Run, campaign: str) -> float:
    rows = [t for t in run.truth.values() if t["campaign_id"] == campaign]
    return sum(t["campaign_requests"] for t in rows) / sum(t["total_requests"] for t in rows)


def test_reseller_mixing_hides_more_harvest_among_customers(base: Run, runs: Runs) -> None:
    ev = SCENARIOS["standard"].evasion
    assert _harvest_share(base, "campaign-c") == pytest.approx(1 - ev.base_mixing, abs=0.04)
    assert _harvest_share(knob(runs, "reseller_mixing"), "campaign-c") == pytest.approx(1 - ev.heavy_mixing, abs=0.05)


def _harvest_prompts(run: Run) -> tuple[int, int]:
    """(harvest requests with a system prompt, harvest requests) of accounts that carry no customer traffic."""
    rows = run.campaign_rows(harvest_only=True)
    with_system = 0
    for i in rows:
        body = run.body(i)
        with_system += bool(body.get("system") or any(m["role"] == "system" for m in body["messages"]))
    return with_system, len(rows)


def test_bare_tasks_send_the_tasks_without_system_prompts_or_wrappers(base: Run, runs: Runs) -> None:
    with_system, total = _harvest_prompts(base)
    assert with_system > 0.5 * total
    bare = knob(runs, "bare_tasks")
    with_system, total = _harvest_prompts(bare)
    assert total and with_system == 0
    # and it is not part of `evasive`, which the shipped scorer trains on
    assert "bare_tasks" not in SCENARIOS["evasive"].evasion.knobs


def _distinct_task_share(run: Run) -> float:
    """Distinct first user messages per harvest request, over all campaign accounts."""
    rows = run.campaign_rows(harvest_only=True)
    texts = set()
    for i in rows:
        first = next(m for m in run.body(i)["messages"] if m["role"] == "user")["content"]
        texts.add(first if isinstance(first, str) else repr(first))
    return len(texts) / len(rows)


def test_resampled_tasks_send_each_task_several_times(base: Run, runs: Runs) -> None:
    before = _distinct_task_share(base)
    after = _distinct_task_share(knob(runs, "resampled_tasks"))
    assert after < 0.8 * before, (before, after)  # 0.86 -> 0.65 at this scale: a quarter of each pool
    assert "resampled_tasks" not in SCENARIOS["evasive"].evasion.knobs
