"""Labelled requests for the content classifiers, built from one split of the prompt corpora and templates.

Why build requests rather than label sentences: the classifiers see what the store holds (system prompt,
first user message, tool names, an image flag), so training examples have that shape: a campaign template
rendering as the system prompt, a corpus prompt inside the family's user-message wrapper, the tools such a
client declares. The same builder with ``split="test"`` gives the held-out evaluation set: test-split
template wording (slot options never seen in training) around test-split corpus prompts.

Labels:

- **CoT elicitation** (binary): the request demands that the model write out its reasoning process: the
  families whose instruction slot asks for it (reasoning traces, reconstruction of the reasoning behind a
  given answer, narrated step-by-step thinking before code, tool calls or UI actions, transparent analytical
  reasoning). Rubric grading and censorship rewrites ask for a verdict or a rewrite, and ordinary requests ask
  for an answer: negative. Ordinary prompts that themselves ask for steps or reasoning (``AMBIGUOUS``) are
  left out of the CoT training set rather than labelled either way.
- **Capability** (multiclass): a family's target capability (``FAMILY_CAPABILITY``); an ordinary prompt's
  from its corpus (``CORPUS_CAPABILITY``), with chat prompts that are arithmetic or maths problems
  (``MATHS``) as reasoning_math, and the capability a benign system prompt states when it has one.

Training data is augmented (``augment=True``; never the evaluation set): a share of ordinary requests is
reframed the way people type, and requests are built around hand-written instructions (chain-of-thought
requests as people phrase them, near misses that ask for a procedure's steps or for no explanation, rubric
grading, people's own coding and maths questions), so the models learn concepts and not only the template
families' few wordings.

Everything hand-written here (benign system prompts, tool lists, answer snippets, instructions) is
distillguard's own wording, not the simulator's (tool names follow public SDK conventions such as `bash` and
`computer`), so evaluation on simulated traffic never sees a training sentence.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

import pyarrow as pa

from distillguard.simulate.corpora import Prompt
from distillguard.simulate.templates import render, wrappers

COT_FAMILIES = frozenset(
    {
        "cot_elicitation",
        "reasoning_reconstruction",
        "data_analyst",
        "coding",
        "agentic_tools",
        "computer_use",
        "orchestration",
    }
)
FAMILY_CAPABILITY = {
    "cot_elicitation": "reasoning_math",
    "reasoning_reconstruction": "reasoning_math",
    "rubric_grading": "rubric_grading",
    "censorship_rewrite": "censorship_rewrite",
    "agentic_tools": "tool_use_agentic",
    "orchestration": "tool_use_agentic",
    "coding": "coding",
    "data_analyst": "data_analysis",
    "computer_use": "computer_use",
}
CORPUS_CAPABILITY = {
    "gpteacher_codegen": "coding",
    "codealpaca_2k": "coding",
    "apibench_torchhub": "coding",
    "bfcl_live_tool_use": "tool_use_agentic",
    "gpteacher_toolformer": "tool_use_agentic",
}  # every other corpus: general_chat (or reasoning_math when MATHS matches)
AMBIGUOUS = re.compile(
    r"step[- ]by[- ]step|chain[- ]of[- ]thought|reasoning|thought process|show (all )?(your|the) work|"
    r"explain (your|the) (logic|thinking)|walk me through|think (it )?through",
    re.IGNORECASE,
)
MATHS = re.compile(
    r"\b(solve|equation|calculate|compute|probability|integral|derivative|theorem|prove that)\b|"
    r"\d\s*[-+*/^×÷=]\s*\d",
    re.IGNORECASE,
)

# Corpora each family draws its user prompts from (names absent from a split are skipped).
FAMILY_POOLS = {
    "cot_elicitation": (
        "alpaca_libre_v1",
        "user_oriented_instructions",
        "mt_bench",
        "vicuna_bench",
        "gpteacher_codegen",
        "hh_rlhf_harmless_test",
    ),
    "reasoning_reconstruction": ("alpaca_libre_v1", "mt_bench", "vicuna_bench", "gpteacher_codegen"),
    "rubric_grading": ("alpaca_libre_v1", "user_oriented_instructions", "hh_rlhf_harmless_test", "gpteacher_codegen"),
    "censorship_rewrite": ("hh_rlhf_harmless_test",),
    "agentic_tools": ("bfcl_live_tool_use", "gpteacher_toolformer", "apibench_torchhub"),
    "orchestration": ("gpteacher_codegen", "gpteacher_toolformer"),
    "coding": ("gpteacher_codegen", "apibench_torchhub"),
    "data_analyst": ("alpaca_libre_v1", "user_oriented_instructions", "mt_bench"),
    "computer_use": ("alpaca_libre_v1", "gpteacher_toolformer", "user_oriented_instructions"),
}
SNIPPET_FAMILIES = frozenset({"rubric_grading", "reasoning_reconstruction"})

# Benign system prompts by the capability they state (None: says nothing about a capability).
BENIGN_SYSTEMS: dict[str | None, tuple[str, ...]] = {
    None: (
        "You are a friendly assistant for a travel booking site. Keep replies under 120 words.",
        "You are an assistant. Be accurate and cite sources where you can.",
        "Reply in British English and avoid jargon.",
        "You are Ada, a customer support agent for a mobile phone company. Be warm and concise.",
        "You help people write better e-mails. Keep the user's voice.",
        "You are a helpful and polite assistant. If you do not know, say so.",
        "Answer briefly. Use bullet points for lists.",
        "You are a cooking assistant. Suggest recipes with ingredients most kitchens have.",
        "You are a study buddy for language learners; correct mistakes gently.",
        "Today's date is 2026-02-03. You are a general-purpose assistant.",
    ),
    "coding": (
        "You are a programming assistant. Reply with working code and a one-line summary.",
        "You are an assistant inside a code editor. Suggest minimal diffs.",
        "You are a TypeScript expert. Use modern syntax and strict types.",
        "You review pull requests. Be specific about bugs and style problems.",
        "You are a SQL helper for analysts; write PostgreSQL queries.",
        "You are an AI pair programmer working in the user's repository. Keep edits small and run the tests.",
    ),
    "data_analysis": (
        "You are a spreadsheet assistant. Give formulas for Excel and Google Sheets.",
        "You are a business intelligence assistant. Summarise the numbers the user gives you.",
        "You help marketing teams read their campaign metrics. Be brief.",
        "You are a statistics helper. Give the result and the test you used.",
    ),
    "tool_use_agentic": (
        "You have access to the functions below. Call one only when the user's request requires it.",
        "You are a smart-home assistant. Use the device functions to carry out requests.",
        "You are the booking assistant of our app; use the available tools to search and reserve.",
    ),
}
# Tool names such clients declare (real SDK and agent-framework conventions, distillguard's own lists).
TOOLSETS = {
    "coding_agent": (
        "bash",
        "str_replace_editor",
        "read_file",
        "edit_file",
        "run_tests",
        "grep_search",
        "list_files",
        "git_diff",
    ),
    "orchestrator": ("delegate_task", "spawn_agent", "get_agent_result", "run_code", "write_file", "task_list"),
    "computer": ("computer", "screenshot", "mouse_click", "type_text", "key_press", "scroll", "bash"),
    "assistant": ("web_search", "calculator", "get_current_time", "fetch_url", "wikipedia_lookup"),
}
FAMILY_TOOLS = {  # family: (toolset, share of requests declaring it); agentic_tools uses the prompt's own
    "coding": ("coding_agent", 0.4),
    "orchestration": ("orchestrator", 0.7),
    "computer_use": ("computer", 0.7),
}
SNIPPETS = (
    "The result is 17, since the two sequences meet at the fifth term.",
    "Paris is the capital of France.",
    "def dedupe(xs):\n    return list(dict.fromkeys(xs))",
    "You should contact your bank immediately and freeze the card.",
    "Overall, the second option is cheaper over five years.",
    "x = 4 and y = -2.",
    "The main causes were drought, trade disruption and a weak currency.",
    "Use a hash map keyed by user id; lookups become O(1).",
    "I would recommend starting with the smaller model and measuring latency.",
    "SELECT name FROM users WHERE created_at > now() - interval '7 days';",
)
# Hand-written instructions in distillguard's own words, so the models learn the concept and not only the
# template families' few wordings: what a chain-of-thought request sounds like in the wild ("let's think step
# by step", scratchpads, <think> tags, "show your work"), near misses that ask for the steps of a procedure or
# for no explanation at all (negatives), rubric-grading instructions and people's own questions. The training
# script checks that none shares a word 4-gram with the TEST-split template wording, so the test-split figures
# stay honest.
COT_SEEDS = (
    "Let's work through this one step at a time.",
    "Give your reasoning first and the final answer last.",
    "Show your work.",
    "Use a scratchpad: write down every calculation and inference before you answer.",
    "Provide a detailed rationale for the answer, one inference at a time.",
    "First write your thought process inside <think></think> tags, then give the answer.",
    "Justify each step of the derivation.",
    "Don't just give the answer; describe how you worked it out.",
    "Talk through your approach in detail before writing any code.",
    "Before each tool call, explain why you are making it.",
    "Output your full deliberation followed by a one-line verdict.",
    "Break the problem into parts and reason about each part in writing before combining them.",
    "Write a long, detailed chain of reasoning; longer explanations are better.",
    "Reverse-engineer the thinking behind this solution and write it down.",
    "Document your reasoning process thoroughly so it can serve as a worked example.",
    "Please explain your thinking at every stage.",
    "Reason it through carefully and show each step of your logic.",
    "Here is a worked answer; justify it by showing how it follows from the question.",
)
NEAR_MISS_SEEDS = (
    "Give step-by-step instructions for the task below.",
    "List the steps in order, as short imperative sentences.",
    "Answer with only the final result, no explanation.",
    "Be concise and do not explain.",
    "Write a step-by-step guide a beginner can follow.",
    "Reply in one sentence.",
    "Explain it in simple terms for a child.",
    "Describe the process briefly.",
    "Summarise the main points.",
    "Keep the answer under 50 words.",
)
RUBRIC_SEEDS = (
    "You evaluate chatbot answers. Give the answer below a grade out of ten and say why.",
    "Act as a judge: decide whether the reply is correct and helpful, then output a score.",
    "Rate the assistant's reply for accuracy, tone and completeness on a 1-5 scale.",
    "Which of the two responses is better? Reply with A or B and a short justification.",
    "You are a reward model. Return a number between 0 and 1 for how good the response is.",
)
# Questions people ask in their own words (the code corpora are tidy "write a function" tasks; the chat
# corpora hold few maths problems), by capability.
QUESTION_SEEDS = {
    "coding": (
        "Fix this bug: my function returns None instead of the list.",
        "Why does this raise KeyError: 'id' when the dict is empty?",
        "Refactor this class so it is easier to test.",
        "My Docker build fails with 'permission denied' on the entrypoint script. How do I fix it?",
        "Write a unit test for the parse_date function.",
        "Convert this JavaScript callback code to async/await.",
        "Segmentation fault when I free the buffer twice in C. What is wrong?",
        "Optimise this SQL query; it does a full table scan on orders.",
        "how do i make a flexbox row wrap onto the next line",
        "git says 'detached HEAD', what did I do and how do I get back to main?",
        "npm install fails with ERESOLVE unable to resolve dependency tree",
        "Is there a way to memoize a recursive function in Rust without a global?",
        "what's the difference between useMemo and useCallback",
        "My pandas merge produces duplicate rows, why?",
        "Kubernetes pod stuck in CrashLoopBackOff, logs say connection refused to postgres",
        "regex to match an IPv4 address?",
        "Why is my Java stream not printing anything?",
        "Type error: Argument of type 'string | undefined' is not assignable to parameter of type 'string'.",
        "How can I speed up this nested loop in numpy?",
        "The CI pipeline times out during the integration tests; how should I debug it?",
        "Explain what this bash one-liner does: find . -name '*.log' -mtime +7 -delete",
        "Django migration error: column already exists. How to fix without losing data?",
    ),
    "reasoning_math": (
        "If a train leaves at 3pm going 60 mph, when has it covered 150 miles?",
        "What is the derivative of x^3 * ln(x)?",
        "A bag has 4 red and 6 blue marbles; I draw two without replacement. Probability both are red?",
        "Prove that the square root of 2 is irrational.",
        "How many ways can 5 people sit around a round table?",
        "Find all integer solutions of 2x + 3y = 12 with x, y >= 0.",
        "If 3 workers build a wall in 8 days, how long do 4 workers take?",
        "What is 15% of 240, then add 12?",
        "Three friends split a bill of 87.60 with an 18% tip. How much does each pay?",
        "Which is bigger, 2^100 or 10^30?",
    ),
}
# How people wrap a request (the code and instruction corpora are tidy imperatives, the chat corpora are not,
# so without these frames "sounds casual" would read as "general chat").
CASUAL_FRAMES = (
    "hey, {}",
    "quick question: {}",
    "{} thanks!",
    "can you help? {}",
    "i'm stuck on this: {}",
    "{} pls",
    "how would i do this: {}",
    "{}\n\nany ideas?",
    "so {}",
    "Hi! {} Thank you so much.",
)
CASUAL_SHARE = 0.3  # of benign training requests
SEED_COPIES = 40  # requests built around each hand-written instruction
MOVE_TO_USER = 0.2  # share of family requests whose template arrives in the user turn, with no system prompt


@dataclass(frozen=True)
class Example:
    """One request and its labels; `source` says where it came from (for per-source evaluation)."""

    system_prompt: str
    first_user_message: str
    tool_names: tuple[str, ...]
    image_count: int
    cot: int | None  # None: ambiguous, left out of CoT training and evaluation
    capability: str
    source: str


def examples_table(examples: Sequence[Example]) -> pa.Table:
    """Examples as an Arrow table with the `events` column names the classifiers read, plus labels."""
    return pa.table(
        {
            "system_prompt": [e.system_prompt or None for e in examples],
            "first_user_message": [e.first_user_message for e in examples],
            "tool_names": pa.array([list(e.tool_names) for e in examples], pa.list_(pa.string())),
            "image_count": pa.array([e.image_count for e in examples], pa.int32()),
            "cot": pa.array([e.cot for e in examples], pa.int8()),
            "capability": [e.capability for e in examples],
            "source": [e.source for e in examples],
        }
    )


def corpus_capability(prompt: Prompt) -> str:
    fixed = CORPUS_CAPABILITY.get(prompt.corpus)
    if fixed:
        return fixed
    return "reasoning_math" if MATHS.search(prompt.text) else "general_chat"


def family_examples(
    family: str, split: str, prompts: Sequence[Prompt], n: int, seed: int, pools: Sequence[str] | None = None
) -> list[Example]:
    """`n` requests of a campaign family: a template rendering, a wrapped corpus prompt, tools, labels.
    `pools` overrides the corpora the user prompts come from (`FAMILY_POOLS`)."""
    rng = random.Random(f"{seed}:{family}:{split}")
    pool = [p for p in prompts if p.corpus in (pools or FAMILY_POOLS[family])]
    wraps = wrappers(family, split)
    systems = sorted({render(family, split, v) for v in range(1, 3 * n // 4 + 2)})
    tools_spec = FAMILY_TOOLS.get(family)
    out = []
    for _ in range(n):
        prompt = rng.choice(pool)
        pre, mid, suf = rng.choice(wraps)
        snippet = rng.choice(SNIPPETS) if family in SNIPPET_FAMILIES and mid else ""
        user = f"{pre}{prompt.text}{mid}{snippet}{suf}"
        system = rng.choice(systems)
        if rng.random() < MOVE_TO_USER:
            system, user = "", f"{system}\n\n{user}"
        tools: tuple[str, ...] = ()
        if family == "agentic_tools":
            tools = _prompt_tools(prompt) or TOOLSETS["assistant"]
        elif tools_spec and rng.random() < tools_spec[1]:
            tools = TOOLSETS[tools_spec[0]]
        image = int(family == "computer_use" and rng.random() < 0.5)
        out.append(
            Example(
                system, user, tools, image, int(family in COT_FAMILIES), FAMILY_CAPABILITY[family], f"family:{family}"
            )
        )
    return out


def benign_examples(
    prompts: Sequence[Prompt], per_corpus: int, seed: int, split: str, casual: float = 0.0
) -> list[Example]:
    """Ordinary requests: corpus prompts with no system prompt, a benign one, or a role prompt as system; a
    `casual` share of them reframed the way people type (`CASUAL_FRAMES`, sometimes all lower case)."""
    rng = random.Random(f"{seed}:benign:{split}")
    personas = [p.text for p in prompts if p.corpus == "awesome_chatgpt_prompts" and len(p.text) < 2000]
    by_corpus: dict[str, list[Prompt]] = {}
    for p in prompts:
        by_corpus.setdefault(p.corpus, []).append(p)
    out = []
    for corpus in sorted(by_corpus):
        rows = by_corpus[corpus]
        for prompt in rng.sample(rows, min(per_corpus, len(rows))):
            capability = corpus_capability(prompt)
            system = ""
            u = rng.random()
            if u < 0.3:
                stated = capability if capability in BENIGN_SYSTEMS else None
                system = rng.choice(BENIGN_SYSTEMS[stated])
            elif u < 0.4 and personas and capability == "general_chat":
                system = rng.choice(personas)
            elif u < 0.5 and capability == "general_chat":
                system = rng.choice(BENIGN_SYSTEMS["data_analysis"])
                capability = "data_analysis"
            tools = _prompt_tools(prompt)
            if capability == "coding" and rng.random() < 0.25:
                system, tools = BENIGN_SYSTEMS["coding"][-1], TOOLSETS["coding_agent"]
            cot = None if AMBIGUOUS.search(prompt.text) else 0
            text = prompt.text
            if rng.random() < casual:
                text = rng.choice(CASUAL_FRAMES).format(text.lower() if rng.random() < 0.5 else text)
            out.append(Example(system, text, tools, 0, cot, capability, f"corpus:{corpus}"))
    return out


def seed_examples(prompts: Sequence[Prompt], seed: int) -> list[Example]:
    """Requests built around the hand-written instructions: each CoT or near-miss instruction as the system
    prompt, before or after a corpus prompt; each rubric instruction over a question and an answer; each
    question on its own or under a benign system prompt."""
    rng = random.Random(f"{seed}:seeds")
    pool = [p for p in prompts if p.corpus != "awesome_chatgpt_prompts" and len(p.text) < 1500]
    out = []
    for label, instructions in ((1, COT_SEEDS), (0, NEAR_MISS_SEEDS)):
        for text in instructions:
            for _ in range(SEED_COPIES):
                prompt = rng.choice(pool)
                system, user = _place(rng, text, prompt.text)
                out.append(
                    Example(
                        system,
                        user,
                        _prompt_tools(prompt),
                        0,
                        label,
                        corpus_capability(prompt),
                        "seed:cot" if label else "seed:near_miss",
                    )
                )
    for text in RUBRIC_SEEDS:
        for _ in range(SEED_COPIES):
            prompt = rng.choice(pool)
            out.append(
                Example(
                    text,
                    f"Question: {prompt.text}\n\nAnswer: {rng.choice(SNIPPETS)}",
                    (),
                    0,
                    0,
                    "rubric_grading",
                    "seed:rubric",
                )
            )
    for capability, questions in QUESTION_SEEDS.items():
        for text in questions:
            for _ in range(SEED_COPIES // 4):
                system = rng.choice(("", "", *BENIGN_SYSTEMS[None], *BENIGN_SYSTEMS.get(capability, ())))
                out.append(
                    Example(
                        system, text, (), 0, None if AMBIGUOUS.search(text) else 0, capability, f"seed:{capability}"
                    )
                )
    return out


def _place(rng: random.Random, instruction: str, prompt: str) -> tuple[str, str]:
    """(system, user): the instruction as the system prompt, or before or after the prompt in the user turn."""
    u = rng.random()
    if u < 0.5:
        return instruction, prompt
    return ("", f"{instruction}\n\n{prompt}") if u < 0.75 else ("", f"{prompt}\n\n{instruction}")


def build_examples(
    prompts: Sequence[Prompt],
    split: str,
    *,
    per_family: int,
    per_corpus: int,
    seed: int,
    augment: bool = False,
) -> pa.Table:
    """Family and benign examples of one split as one table (deterministic for a seed). `augment` (training
    only) reframes some benign requests casually and adds the requests built around the hand-written
    instructions."""
    rows: list[Example] = []
    for family in FAMILY_CAPABILITY:
        rows += family_examples(family, split, prompts, per_family, seed)
    rows += benign_examples(prompts, per_corpus, seed, split, CASUAL_SHARE if augment else 0.0)
    if augment:
        rows += seed_examples(prompts, seed)
    return examples_table(rows)


def _prompt_tools(prompt: Prompt) -> tuple[str, ...]:
    return tuple(t["name"].replace(".", "_")[:64] for t in prompt.tools or ())
