"""Truth, accounts and logs agree, logs follow DESIGN §3.1, and nothing in them names a role."""

from __future__ import annotations

import re
from collections import Counter

from .conftest import Run

ACCOUNT_FIELDS = [
    "account_id",
    "created_at",
    "account_type",
    "org_id",
    "email_domain",
    "email_hash",
    "payment_fingerprint",
    "country",
    "verified",
    "email_pattern",
]
LOG_FIELDS = [
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
]


def test_truth_accounts_and_logs_agree(standard: Run) -> None:
    logged = Counter(r["account_id"] for r in standard.logs)
    assert set(logged) <= set(standard.truth)  # every logged account has a truth row
    assert set(standard.truth) == set(standard.accounts)  # every truth account is in accounts.jsonl
    for a, t in standard.truth.items():
        assert t["total_requests"] == logged.get(a, 0), a
        assert 0 <= t["campaign_requests"] <= t["total_requests"]
        if t["role"] != "campaign":
            assert t["campaign_requests"] == 0 and t["campaign_id"] is None and t["evasion"] == []
    assert sum(t["campaign_requests"] for t in standard.truth.values()) == standard.summary.campaign_requests


def test_log_lines_follow_the_native_format(standard: Run) -> None:
    ids = set()
    last = ""
    for r in standard.full:
        assert list(r) == LOG_FIELDS
        assert r["timestamp"] >= last and re.fullmatch(r"2026-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["timestamp"])
        last = r["timestamp"]
        ids.add(r["request_id"])
        body = r["request"]
        assert body["messages"] and all(m["role"] in ("system", "user", "assistant", "tool") for m in body["messages"])
        assert isinstance(body["max_tokens"], int)
        if r["endpoint"] == "messages":  # Anthropic Messages: system as a field, tools always listed
            assert body["messages"][0]["role"] == "user" and isinstance(body["tools"], list)
        else:  # OpenAI Chat Completions: system as the first message
            assert r["endpoint"] == "chat/completions" and "system" not in body
        if r["status"] == 200:
            assert set(r["response"]) == {"input_tokens", "output_tokens", "stop_reason"}
    assert len(ids) == len(standard.logs)


def test_accounts_file_fields(standard: Run) -> None:
    types = set()
    for a in standard.accounts.values():
        assert list(a) == ACCOUNT_FIELDS
        types.add(a["account_type"])
    assert types == {"individual", "startup", "education", "research", "enterprise", "reseller"}


def test_ids_reveal_nothing(standard: Run) -> None:
    ids = list(standard.truth)
    assert all(re.fullmatch(r"acct_[0-9a-f]{16}", a) for a in ids)
    assert ids == sorted(ids)  # files are in id order, not population order
    campaign = [int(a[5], 16) for a, t in standard.truth.items() if t["role"] == "campaign"]
    assert 5.5 < sum(campaign) / len(campaign) < 9.5  # first hex digit is uniform for campaign accounts too
    words = re.compile(r"campaign|hard_negative|benign|cell-\d", re.I)
    for r in standard.logs[::50]:
        assert not words.search(" ".join(str(v) for v in r.values()))  # every field but request and response
