"""Evaluation traffic uses only the test split of prompts and of template wording."""

from __future__ import annotations

import hashlib

from distillguard.simulate import split_of, train_prompts, train_templates
from distillguard.simulate.corpora import prompts
from distillguard.simulate.templates import FAMILY_NAMES, slot_options

from .conftest import Run


def _first_user_text(body: dict) -> str:
    content = next(m for m in body["messages"] if m["role"] == "user")["content"]
    return content if isinstance(content, str) else content[0]["text"]


def _system(body: dict) -> str | None:
    if "system" in body:
        return body["system"]
    first = body["messages"][0]
    return first["content"] if first["role"] == "system" else None


def test_split_rule_is_stable() -> None:
    # sha256("distillguard-split-v1:" + id)[:8] < 0.7 * 2**64 -> train (values fixed when the rule was set)
    assert [split_of(f"mt_bench-{i}") for i in range(6)] == ["train", "train", "train", "test", "train", "train"]
    for key in ("bfcl_live_tool_use-7", "gpteacher_codegen-123"):
        h = int.from_bytes(hashlib.sha256(f"distillguard-split-v1:{key}".encode()).digest()[:8], "big")
        assert split_of(key) == ("train" if h < 0.7 * 2**64 else "test")
    train = {p.id for p in train_prompts(extras=False)}
    test = {p.id for p in prompts("test", extras=False)}
    assert train and test and not train & test
    assert 0.65 < len(train) / (len(train) + len(test)) < 0.75


def test_no_train_prompt_in_evaluation_traffic(standard: Run) -> None:
    train = {p.text for p in train_prompts(extras=False)}
    test = {p.text for p in prompts("test", extras=False)}
    firsts = [_first_user_text(r["request"]) for r in standard.full]
    assert not [f for f in firsts if f in train]
    assert sum(f in test for f in firsts) > 0.3 * len(firsts)  # the check has teeth: most prompts are bare


def test_no_train_template_wording_in_campaign_traffic(standard: Run) -> None:
    systems = {s for i in standard.campaign_rows(harvest_only=True) if (s := _system(standard.full[i]["request"]))}
    train = [o for f in train_templates().values() for slot in f["slots"] for o in slot if len(o) >= 20]
    assert not [o for o in train if any(o in s for s in systems)]
    test = [o for f in FAMILY_NAMES for slot in slot_options(f, "test") for o in slot if len(o) >= 20]
    assert any(o in s for o in test for s in systems)


def test_train_and_test_wording_are_disjoint() -> None:
    for f, parts in train_templates().items():
        for train, test in zip(parts["slots"], slot_options(f, "test"), strict=True):
            assert train and test and not set(train) & set(test)
