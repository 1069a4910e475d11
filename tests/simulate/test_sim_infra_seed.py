"""`infra_seed`: two providers attacked by one actor's infrastructure, with their own accounts and customers.

The intel tests (tests/intel) need two stores in which the same actor shows the same proxy exits and clients;
these checks pin down that `infra_seed` shares exactly that and nothing else.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from distillguard.simulate import simulate

SCALE = 0.001


def _read(out: Path) -> tuple[dict[str, dict], list[dict]]:
    truth = {r["account_id"]: r for r in map(orjson.loads, (out / "truth.jsonl").read_bytes().splitlines())}
    logs = []
    for line in (out / "logs.jsonl").read_bytes().splitlines():
        logs.append(orjson.loads(line[: line.index(b',"request":')] + b"}"))
    return truth, logs


def _by_actor(truth: dict[str, dict], logs: list[dict], field: str) -> dict[str | None, set[str]]:
    out: dict[str | None, set[str]] = {}
    for r in logs:
        out.setdefault(truth[r["account_id"]]["actor"], set()).add(r[field])
    return out


@pytest.fixture(scope="module")
def providers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[dict[str, dict], list[dict]]]:
    root = tmp_path_factory.mktemp("infra")
    runs = {"a": (1, 9), "b": (2, 9), "plain": (2, None)}
    out = {}
    for name, (seed, infra) in runs.items():
        simulate("standard", SCALE, seed, root / name, infra_seed=infra)
        out[name] = _read(root / name)
    return out


def test_one_infra_seed_shares_each_actors_proxies_and_clients(providers: dict) -> None:
    (ta, la), (tb, lb) = providers["a"], providers["b"]
    ips_a, ips_b = _by_actor(ta, la, "client_ip"), _by_actor(tb, lb, "client_ip")
    uas_a, uas_b = _by_actor(ta, la, "user_agent"), _by_actor(tb, lb, "user_agent")
    for actor in ("A", "B", "C"):
        assert len(ips_a[actor] & ips_b[actor]) >= 0.2 * min(len(ips_a[actor]), len(ips_b[actor])), actor
        assert uas_a[actor] & uas_b[actor], actor


def test_accounts_and_ordinary_customers_still_follow_the_seed(providers: dict) -> None:
    (ta, la), (tb, lb) = providers["a"], providers["b"]
    assert not set(ta) & set(tb)
    benign_a, benign_b = _by_actor(ta, la, "client_ip")[None], _by_actor(tb, lb, "client_ip")[None]
    assert len(benign_a & benign_b) <= 0.01 * len(benign_a)


def test_without_infra_seed_the_proxies_follow_the_seed(providers: dict) -> None:
    (tb, lb), (tp, lp) = providers["b"], providers["plain"]
    assert set(tb) == set(tp)  # same seed: same accounts
    ips_b, ips_p = _by_actor(tb, lb, "client_ip"), _by_actor(tp, lp, "client_ip")
    assert len(ips_b["C"] & ips_p["C"]) <= 0.01 * len(ips_b["C"])
    # the ordinary customers are the same people (their per-request draws shift with the campaigns' volumes)
    assert {a for a, r in tb.items() if r["actor"] is None} == {a for a, r in tp.items() if r["actor"] is None}
