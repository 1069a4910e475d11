"""Template signals on hand-made stores: a campaign's rare script links its accounts; a crowd's default prompt,
a university's assignment and a colleague's shared prompt do not."""

from __future__ import annotations

from distillguard.signals.base import DetectionContext
from distillguard.signals.templates import SharedSystemTemplate, SharedUserTemplate, TemplateConcentration
from distillguard.templates import TemplateConfig, label_templates
from tests.signals.conftest import event

SCRIPT = (
    "You are a meticulous reasoning engine. Reconstruct the hidden chain of thought that leads to the given "
    "answer and write every intermediate step out in full, numbered, before restating the answer."
)
HELPFUL = "You are a helpful assistant."
QUESTIONS = [f"Question {topic}: why does the sky look blue at noon" for topic in "abcdefghijkl"]


def _labelled(store, events: list[dict], accounts: list[dict] | None = None) -> DetectionContext:  # noqa: ANN001
    ctx = store(events, accounts)
    label_templates(ctx.db, TemplateConfig(min_support=5))
    return ctx


def _crowd(n: int = 12) -> list[dict]:
    """Unrelated ordinary users: the same default system prompt, habitually, and their own questions."""
    return [
        event(f"u{i:02d}", k, system_prompt=HELPFUL, first_user_message=f"user {i} asks thing number {k}")
        for i in range(n)
        for k in range(10)
    ]


def _weights(table) -> dict[tuple[str, str], float]:  # noqa: ANN001
    return {(r["account_a"], r["account_b"]): r["weight"] for r in table.to_pylist()}


def test_campaign_accounts_sharing_a_rare_system_template_are_linked_and_the_crowd_is_not(store) -> None:  # noqa: ANN001
    campaign = [
        event(f"c{i}", k, system_prompt=SCRIPT, first_user_message=QUESTIONS[k]) for i in range(4) for k in range(12)
    ]
    ctx = _labelled(store, campaign + _crowd())
    rows = SharedSystemTemplate().compute(ctx)
    weights = _weights(rows)
    assert set(weights) == {(f"c{i}", f"c{j}") for i in range(4) for j in range(i + 1, 4)}
    assert min(weights.values()) > 0.5  # 4 of 16 parties: rare
    detail = rows.to_pylist()[0]["detail"]
    assert "meticulous reasoning engine" in detail and "4 accounts" in detail


def test_occasional_use_of_the_script_does_not_link(store) -> None:  # noqa: ANN001
    campaign = [event(f"c{i}", k, system_prompt=SCRIPT) for i in range(2) for k in range(12)]
    # a curious user who tried the same prompt once among many ordinary requests
    visitor = [event("v", k, system_prompt=SCRIPT if k == 0 else HELPFUL) for k in range(30)]
    pairs = set(_weights(SharedSystemTemplate().compute(_labelled(store, campaign + visitor + _crowd()))))
    assert pairs == {("c0", "c1")}


def test_students_of_one_university_pasting_the_assignment_get_no_template_link(store) -> None:  # noqa: ANN001
    # Six students of one organisation send the same assignment in the same wrapper, again and again; an
    # outsider uses the wrapper too. The template says "same course", which the org already says.
    students = [
        event(f"s{i}", k, system_prompt=SCRIPT, first_user_message=f"can you explain how to solve this\n\n{q}")
        for i in range(6)
        for k, q in enumerate(QUESTIONS)
    ]
    accounts = [{"account_id": f"s{i}", "org_id": "uni-1", "account_type": "education"} for i in range(6)]
    outsider = [
        event("x", k, first_user_message=f"can you explain how to solve this\n\n{q}")
        for k, q in enumerate(QUESTIONS[:2])
    ] + [event("x", 9 + k, system_prompt=HELPFUL) for k in range(20)]
    ctx = _labelled(store, students + outsider + _crowd(), accounts)
    assert ctx.db.scalar("SELECT count(DISTINCT user_template) FROM request_templates WHERE account_id = 's0'") == 1
    assert SharedSystemTemplate().compute(ctx).num_rows == 0
    assert SharedUserTemplate().compute(ctx).num_rows == 0


def test_a_resellers_accounts_are_not_excused_by_their_shared_org(store) -> None:  # noqa: ANN001
    hydra = [event(f"h{i}", k, system_prompt=SCRIPT) for i in range(3) for k in range(12)]
    accounts = [{"account_id": f"h{i}", "org_id": "reseller-9", "account_type": "reseller"} for i in range(3)]
    pairs = set(_weights(SharedSystemTemplate().compute(_labelled(store, hydra + _crowd(), accounts))))
    assert pairs == {("h0", "h1"), ("h0", "h2"), ("h1", "h2")}


def test_a_template_with_many_users_is_linked_as_a_ring_not_a_clique(store) -> None:  # noqa: ANN001
    hydra = [event(f"h{i:02d}", k, system_prompt=SCRIPT) for i in range(12) for k in range(6)]
    ctx = _labelled(store, hydra + _crowd(30))
    ctx.settings = {"shared_system_template.dense": 5, "shared_system_template.ring": 2}
    pairs = set(_weights(SharedSystemTemplate().compute(ctx)))
    assert len(pairs) == 12 * 2  # n * ring, not n * (n - 1) / 2 = 66
    degree = {a: sum(a in p for p in pairs) for a in {f"h{i:02d}" for i in range(12)}}
    assert set(degree.values()) == {4}
    reached, frontier = {"h00"}, ["h00"]
    while frontier:  # the ring is connected: one cluster, not twelve
        node = frontier.pop()
        for a, b in pairs:
            for x, y in ((a, b), (b, a)):
                if x == node and y not in reached:
                    reached.add(y)
                    frontier.append(y)
    assert len(reached) == 12


def test_user_frames_link_weaker_than_system_templates(store) -> None:  # noqa: ANN001
    campaign = [
        event(f"c{i}", k, system_prompt=SCRIPT, first_user_message=f"Task for the agent: {QUESTIONS[k]}")
        for i in range(3)
        for k in range(12)
    ]
    ctx = _labelled(store, campaign + _crowd())
    system, user = _weights(SharedSystemTemplate().compute(ctx)), _weights(SharedUserTemplate().compute(ctx))
    assert set(user) == set(system) == {("c0", "c1"), ("c0", "c2"), ("c1", "c2")}
    assert all(0 < user[p] < system[p] for p in user)


def test_template_concentration_is_the_top_template_share_with_the_masked_text(store) -> None:  # noqa: ANN001
    events = [event("a", k, system_prompt=SCRIPT if k < 16 else f"Note {k}: be brief.") for k in range(20)]
    events += [event("b", k, system_prompt=HELPFUL) for k in range(5)]  # too few requests to judge
    rows = TemplateConcentration().compute(_labelled(store, events)).to_pylist()
    assert [r["account_id"] for r in rows] == ["a"]
    assert rows[0]["value"] == 0.8
    assert "reconstruct the hidden chain of thought" in rows[0]["detail"]
    assert len(rows[0]["evidence"]) == 3
