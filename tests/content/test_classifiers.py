"""Content classifiers: the hashed features, fit/predict on hand-made data, persistence, and the shipped models on
hand-written requests that appear in no corpus and no template (paraphrase robustness)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from distillguard.content import CotElicitationClassifier, SyntheticDataMarkers, load_default_models
from distillguard.content.features import HashSpec, RequestFeaturizer


def requests(rows: list[tuple]) -> pa.Table:
    """(system, user[, tools[, images]]) tuples as the request columns of `events`."""
    full = [r + ((), 0)[len(r) - 2 :] for r in rows]
    return pa.table(
        {
            "system_prompt": [r[0] for r in full],
            "first_user_message": [r[1] for r in full],
            "tool_names": pa.array([list(r[2]) for r in full], pa.list_(pa.string())),
            "image_count": pa.array([r[3] for r in full], pa.int32()),
        }
    )


@pytest.fixture(scope="module")
def models():  # noqa: ANN201
    return load_default_models()


# ------------------------------------------------------------------------------------------------- features


def test_ngram_counts_of_a_known_text() -> None:
    counts, mats = RequestFeaturizer().hasher.text_matrices(pa.array(["Think  step\nby step", "", None, "ab"]))
    # "think step by step" (18 bytes): 16 + 15 + 14 char 3-5-grams, 4 words, 3 bigrams; "ab": one word
    assert counts.tolist() == [52, 0, 0, 1]
    assert sum(m.sum() for m in mats) == 53


def test_fast_scores_equal_the_feature_matrix_product() -> None:
    featurizer = RequestFeaturizer(HashSpec(n_bits=12, head_chars=20, tail_chars=10))
    batch = requests(
        [
            ("You are X.", "Explain your reasoning in detail, every single step of it", ("read_file", "bash")),
            (None, "hi there", (), 2),
            ("You are X.", "", ()),
            ("", "ÜNICODE tëxt — with punctuation!", ("x",)),
        ]
    )
    weights = np.random.default_rng(0).normal(size=(featurizer.n_features, 3)).astype(np.float32)
    intercept = np.array([0.1, -0.2, 0.3])
    expected = featurizer.transform(batch) @ weights + intercept
    np.testing.assert_allclose(featurizer.linear_scores(batch, weights, intercept), expected, rtol=1e-5, atol=1e-5)


def test_a_long_pasted_message_does_not_dilute_the_system_prompt() -> None:
    featurizer = RequestFeaturizer()
    x_short = featurizer.transform(requests([("Show each step.", "hi")]))
    x_long = featurizer.transform(requests([("Show each step.", "hi " + "lorem ipsum " * 500)]))
    system_part = featurizer.transform(requests([("Show each step.", "")]))
    overlap = lambda x: float(x.multiply(system_part).sum())  # noqa: E731
    assert overlap(x_short) == pytest.approx(overlap(x_long), rel=0.05)


# ------------------------------------------------------------------------------------------ fit and persist

COT = [
    ("Write out your full reasoning before answering.", "What is 12 squared?"),
    ("Show every step of your thinking.", "Is 91 prime?"),
    (None, "Explain your reasoning step by step: why is the sky blue?"),
    ("Narrate your thought process in detail.", "Plan a picnic."),
]
PLAIN = [
    ("You are a helpful assistant.", "What is 12 squared?"),
    (None, "Is 91 prime?"),
    (None, "Why is the sky blue?"),
    ("Be brief.", "Plan a picnic."),
]


def test_fit_predict_and_round_trip(tmp_path) -> None:  # noqa: ANN001
    batch = requests(COT * 3 + PLAIN * 3)
    y = np.array([1] * 12 + [0] * 12)
    model = CotElicitationClassifier(C=10.0, n_bits=14, min_df=1).fit(batch, y)
    assert model.coef_.shape == (1, 1 << 14) and list(model.classes_) == [0, 1]
    held_out = requests([("Write out every step of your reasoning.", "Name a prime."), (None, "Name a prime.")])
    assert model.predict(held_out).tolist() == [1, 0]
    model.save(tmp_path / "cot.npz")
    loaded = CotElicitationClassifier.load(tmp_path / "cot.npz")
    np.testing.assert_allclose(loaded.decision_function(batch), model.decision_function(batch), atol=0.02)
    assert loaded.get_params() == model.get_params()


def test_saved_bytes_are_deterministic(tmp_path) -> None:  # noqa: ANN001
    batch = requests(COT + PLAIN)
    y = [1] * 4 + [0] * 4
    for name in ("a.npz", "b.npz"):
        CotElicitationClassifier(n_bits=12, min_df=1).fit(batch, y).save(tmp_path / name)
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


# -------------------------------------------------------------------------------------------- shipped models

COT_PARAPHRASES = [
    (
        None,
        "Walk me through, step by step, the thinking that would lead to this answer: Canberra is the capital "
        "of Australia.",
    ),
    (
        "You are a tutor. For every question, lay out your full chain of reasoning before you state the answer, "
        "numbering each step.",
        "Why does ice float on water?",
    ),
    (
        None,
        "Here is a solved problem and its final answer. Write out the detailed reasoning that gets from the "
        "problem to the answer.\nProblem: A train covers 120 km in 1.5 hours. What is its speed?\nAnswer: 80 km/h",
    ),
    (
        "Before you respond, think out loud and write down every intermediate step of your reasoning.",
        "Plan a three-day trip to Rome.",
    ),
    (
        "Explain the logic behind each line of your solution in detail before presenting the final code.",
        "Implement binary search in Go.",
    ),
]
NOT_COT = [
    (None, "What's the weather like in Paris in spring?"),
    ("You are a helpful assistant.", "Translate 'good morning' into Spanish."),
    (None, "Write a haiku about autumn leaves."),
    (
        None,
        "Summarise this e-mail in two sentences: Hi team, the offsite moves to Thursday because the venue "
        "flooded. Lunch is provided.",
    ),
    ("You are a coding assistant.", "Write a Python function that merges two sorted lists."),
    (
        "Rate how good the reply below is on a scale of 1-5 and explain why.",
        "User: recommend a book\nAssistant: Read Dune.",
    ),
]


def test_shipped_cot_model_recognises_unseen_paraphrases(models) -> None:  # noqa: ANN001
    cot = models.label(requests(COT_PARAPHRASES + NOT_COT)).column("cot_score").to_numpy()
    positives, negatives = cot[: len(COT_PARAPHRASES)], cot[len(COT_PARAPHRASES) :]
    assert (positives >= 0.5).all(), positives
    assert (negatives < 0.5).all(), negatives


@pytest.mark.parametrize(
    ("request_", "capability"),
    [
        (("You are a coding assistant.", "Write a Python function that merges two sorted lists into one."), "coding"),
        (
            (
                None,
                "Here's my Python code, it crashes with IndexError: list index out of range:\n\n"
                "for i in range(len(items) + 1):\n    print(items[i])",
            ),
            "coding",
        ),
        (
            (
                "You can call the functions provided.",
                "Book the cheapest flight from Berlin to Lisbon next Friday and tell me the weather there.",
                ("search_flights", "book_flight", "get_weather"),
            ),
            "tool_use_agentic",
        ),
        (
            (
                "You are an evaluator. Read the user's question and the assistant's answer, grade the answer from 1 to "
                "10 for accuracy and helpfulness, and justify the grade.",
                "Question: What is 2+2?\nAnswer: 5",
            ),
            "rubric_grading",
        ),
        (
            (
                "You are a senior data analyst.",
                "Monthly sales: Jan 120, Feb 95, Mar 140. What's the trend and the average?",
            ),
            "data_analysis",
        ),
        ((None, "What's a good name for a golden retriever puppy?"), "general_chat"),
        ((None, "What breed is the dog in this photo?", (), 1), "vision"),
        (
            (
                "You operate the user's computer by taking screenshots and clicking.",
                "Open the settings app and turn on dark mode.",
                ("computer",),
                1,
            ),
            "computer_use",
        ),
    ],
)
def test_shipped_capability_model_on_hand_made_requests(models, request_, capability) -> None:  # noqa: ANN001
    assert models.label(requests([request_])).column("capability")[0].as_py() == capability


def test_synthetic_data_markers_need_two_kinds_of_evidence() -> None:
    batch = requests(
        [
            (
                None,
                "Generate 20 realistic customer complaints about late deliveries. Return a JSON list of objects "
                'with the fields "text" and "label".',
            ),
            (
                "You create labelled training data for intent classifiers.",
                "Write 15 user utterances asking to cancel a subscription.",
            ),
            (None, "Give me 5 examples of metaphors."),  # many items, nothing else: a person asking for examples
            (None, "What's the weather like in Paris in spring?"),
        ]
    )
    score = SyntheticDataMarkers().score(batch)
    assert score[0] >= 0.5 and score[1] >= 0.5
    assert score[2] < 0.5 and score[3] == 0.0
