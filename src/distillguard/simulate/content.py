"""What requests say: request *kinds* (a capability area with its prompts, system prompts, tools and
history), the text tables they index, and the vectorised choice of content for each request.

Why kinds: capability concentration is a tell only if ordinary users also concentrate (a developer sends
mostly code), so benign accounts get their own mixture over the same capability areas, and campaigns draw
from the same corpora as people do (the README warns that generated prompts are tidier than people's; the
real campaigns used benign-looking prompts too). What differs is the *combination*: templated chain-of-
thought system prompts, narrow mixtures and volume across linked accounts.

Every text lives once in a table (system prompts, user prompts, wrappers, answer snippets, histories, tool
lists); a request is a handful of integer indices into them. Only the test split is loaded for evaluation
scenarios (``split="test"``); ``split="train"`` exists for generating training traffic.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

import numpy as np

from distillguard.simulate import phrases, templates, tools
from distillguard.simulate.corpora import prompts

MAX_PROMPT_CHARS = 6_000  # longer corpus rows (a few role prompts run to 144k chars) are left out
MAX_TOOLS_BYTES = 2_500  # BFCL rows whose tool list is longer (about half) are left out: output volume

# prompt pools: (corpus, weight) - ordinary chat is mostly short questions, rarely a pasted role prompt
POOLS: dict[str, tuple[tuple[str, float], ...]] = {
    "chat": (
        ("hh_rlhf_harmless_test", 0.3),
        ("user_oriented_instructions", 0.15),
        ("vicuna_bench", 0.1),
        ("mt_bench", 0.1),
        ("awesome_chatgpt_prompts", 0.08),
        ("sharegpt_1000", 0.17),
        ("alpaca_eval_human", 0.1),
    ),
    "bench": (("mt_bench", 1), ("vicuna_bench", 1), ("user_oriented_instructions", 1), ("alpaca_eval_human", 1)),
    "sensitive": (("hh_rlhf_harmless_test", 1),),
    "tools": (("bfcl_live_tool_use", 1),),
    "toolformer": (("gpteacher_toolformer", 1),),
    "code": (("gpteacher_codegen", 3), ("codealpaca_2k", 1)),
    "api": (("apibench_torchhub", 1),),
    "instructions": (("alpaca_libre_v1", 3), ("alpaca_seed_tasks", 1)),
    "roles": (("awesome_chatgpt_prompts", 1),),
}
SYSTEM_LISTS = {
    "helpful": phrases.HELPFUL_SYSTEMS,
    "coding": phrases.CODING_SYSTEMS,
    "tools_app": phrases.TOOL_SYSTEMS,
    "analysis": phrases.ANALYSIS_SYSTEMS,
    "eval": phrases.EVAL_SYSTEMS,
    "synth": phrases.SYNTH_SYSTEMS,
    "platform": (phrases.PLATFORM_SYSTEM,),
}
WRAPPER_LISTS = {"eval": phrases.EVAL_WRAPPERS, "student": phrases.STUDENT_WRAPPERS}
# Agent-history tables: (toolset, longest history in steps, variants per length)
TAILS = {"chat": 4, "platform": 24, "swe": 16, "orchestrator": 12, "computer": 8, "assistant": 6}
TAIL_VARIANTS = 8
STOP_END, STOP_MAX, STOP_TOOL = 0, 1, 2


@dataclass(frozen=True)
class Kind:
    """A capability area. ``system`` mixes system-prompt sources ("none", "family", "persona" or a
    SYSTEM_LISTS name); ``family`` names the campaign template family (None with "family" means a random
    family, as benign users copying a prompt would); ``tools`` is "none", "prompt" (the BFCL row's own
    tools) or a toolset; ``tail`` a history table ("none", "chat" or a toolset) used with probability
    ``tail_p``, ``depth`` = (median, sigma, max) steps."""

    name: str
    pools: tuple[tuple[str, float], ...]
    system: tuple[tuple[str, float], ...] = (("family", 1.0),)
    family: str | None = None
    wrap: str | None = None  # "family", "eval", "student"
    snippet: bool = False
    tools: str = "none"
    tail: str = "none"
    tail_p: float = 0.0
    depth: tuple[float, float, int] = (1.5, 0.6, 4)
    max_tokens: tuple[int, ...] = (1024, 2048, 4096, 4096, 8192)
    out_tokens: tuple[float, float] = (380.0, 0.8)
    tool_stop: float = 0.0
    image: bool = False


KINDS: tuple[Kind, ...] = (
    # ordinary users
    Kind("chat", (("chat", 1),), (("none", 0.65), ("helpful", 0.27), ("persona", 0.08)), tail="chat", tail_p=0.35),
    Kind("persona_chat", (("chat", 1),), (("persona", 1),), tail="chat", tail_p=0.5),
    Kind(
        "dev_code",
        (("code", 0.75), ("api", 0.25)),
        (("none", 0.5), ("coding", 0.5)),
        tail="chat",
        tail_p=0.4,
        out_tokens=(520, 0.8),
    ),
    Kind("tool_app", (("tools", 1),), (("tools_app", 1),), tools="prompt", out_tokens=(90, 0.7), tool_stop=0.7),
    Kind(
        "dev_agent",
        (("toolformer", 0.7), ("code", 0.3)),
        (("none", 0.4), ("tools_app", 0.6)),
        tools="assistant",
        tail="assistant",
        tail_p=0.4,
        depth=(2, 0.6, 6),
        out_tokens=(150, 0.8),
        tool_stop=0.4,
    ),
    Kind(
        "analysis",
        (("instructions", 0.6), ("chat", 0.4)),
        (("none", 0.4), ("analysis", 0.6)),
        tail="chat",
        tail_p=0.3,
        out_tokens=(420, 0.7),
    ),
    Kind(
        "templated_benign", (("instructions", 0.4), ("chat", 0.3), ("code", 0.3)), wrap="family", out_tokens=(900, 0.7)
    ),
    # hard negatives
    Kind(
        "eval_bench",
        (("bench", 0.45), ("code", 0.2), ("api", 0.1), ("tools", 0.25)),
        (("eval", 1),),
        wrap="eval",
        tools="prompt",
        max_tokens=(2048, 4096),
        out_tokens=(450, 0.9),
    ),
    Kind(
        "platform_agent",
        (("code", 0.7), ("chat", 0.1), ("instructions", 0.2)),
        (("platform", 1),),
        tools="platform",
        tail="platform",
        tail_p=0.8,
        depth=(3, 0.8, 24),
        max_tokens=(8192,),
        out_tokens=(260, 0.9),
        tool_stop=0.75,
    ),
    Kind(
        "assignment",
        (("assignments", 1),),
        (("none", 1),),
        wrap="student",
        tail="chat",
        tail_p=0.45,
        out_tokens=(500, 0.7),
    ),
    Kind("synth_gen", (("synth", 1),), (("synth", 1),), max_tokens=(2048, 4096), out_tokens=(700, 0.5)),
    # campaigns
    Kind(
        "cot",
        (("instructions", 0.35), ("chat", 0.2), ("code", 0.25), ("bench", 0.2)),
        family="cot_elicitation",
        wrap="family",
        max_tokens=(8192, 16000),
        out_tokens=(1500, 0.6),
    ),
    Kind(
        "rubric",
        (("instructions", 0.4), ("chat", 0.4), ("code", 0.2)),
        family="rubric_grading",
        wrap="family",
        snippet=True,
        out_tokens=(600, 0.6),
    ),
    Kind("censorship", (("sensitive", 1),), family="censorship_rewrite", wrap="family", out_tokens=(700, 0.6)),
    Kind(
        "analyst_cot",
        (("instructions", 0.6), ("chat", 0.4)),
        family="data_analyst",
        wrap="family",
        out_tokens=(1200, 0.6),
    ),
    Kind(
        "agentic_tools",
        (("tools", 1),),
        family="agentic_tools",
        wrap="family",
        tools="prompt",
        out_tokens=(600, 0.7),
        tool_stop=0.6,
    ),
    Kind(
        "agentic_text",
        (("toolformer", 0.7), ("api", 0.3)),
        family="agentic_tools",
        wrap="family",
        tools="assistant",
        tail="assistant",
        tail_p=0.3,
        depth=(2, 0.6, 6),
        out_tokens=(900, 0.7),
        tool_stop=0.5,
    ),
    Kind("coding_cot", (("code", 0.85), ("api", 0.15)), family="coding", wrap="family", out_tokens=(1600, 0.6)),
    Kind(
        "computer_use",
        (("instructions", 0.5), ("toolformer", 0.5)),
        family="computer_use",
        wrap="family",
        tools="computer",
        tail="computer",
        tail_p=0.7,
        depth=(2, 0.6, 8),
        out_tokens=(300, 0.6),
        tool_stop=0.8,
        image=True,
    ),
    Kind(
        "reasoning_reconstruction",
        (("instructions", 0.4), ("bench", 0.3), ("code", 0.3)),
        family="reasoning_reconstruction",
        wrap="family",
        snippet=True,
        out_tokens=(1400, 0.6),
    ),
    Kind(
        "c_agentic_coding",
        (("code", 0.9), ("api", 0.1)),
        family="coding",
        wrap="family",
        tools="swe",
        tail="swe",
        tail_p=0.75,
        depth=(3, 0.7, 16),
        max_tokens=(8192, 16000),
        out_tokens=(700, 0.7),
        tool_stop=0.7,
    ),
    Kind(
        "c_orchestration",
        (("code", 0.5), ("toolformer", 0.5)),
        family="orchestration",
        wrap="family",
        tools="orchestrator",
        tail="orchestrator",
        tail_p=0.7,
        depth=(3, 0.7, 12),
        out_tokens=(800, 0.7),
        tool_stop=0.6,
    ),
)
KIND_INDEX = {k.name: i for i, k in enumerate(KINDS)}
FAMILY_INDEX = {f: i for i, f in enumerate(templates.FAMILY_NAMES)}


def mixture(**weights: float) -> np.ndarray:
    """A probability vector over KINDS from kind-name weights."""
    v = np.zeros(len(KINDS))
    for name, w in weights.items():
        v[KIND_INDEX[name]] = w
    return v / v.sum()


class Tables:
    """Every text a request can carry, each stored once; index 0 of each table means "nothing".

    Everything but the system-prompt table is built once per (split, extras) and shared by later
    simulations in the process (with a fixed seed: histories and answer snippets are filler, and building
    them dominates the start-up of small runs); campaigns add their own system prompts per simulation.
    """

    def __init__(self, split: str, extras: bool) -> None:
        lib = _library(split, extras)
        self.split = split
        self.user, self.user_tools, self.tools, self.toolsets = lib.user, lib.user_tools, lib.tools, lib.toolsets
        self.pools = dict(lib.pools)
        self.wraps, self.wrap_lists, self.family_wraps = lib.wraps, lib.wrap_lists, lib.family_wraps
        self.snippets, self.tails, self.tail_base = lib.snippets, lib.tails, lib.tail_base
        self.sys = list(lib.sys)
        self._sys_index = dict(lib._sys_index)
        self.sys_lists, self.family_benign_sys = lib.sys_lists, lib.family_benign_sys

    def _build(self, split: str, extras: bool) -> None:
        rng = random.Random(20260201)
        self.split = split
        self.sys: list[str] = [""]
        self._sys_index: dict[str, int] = {"": 0}
        self.sys_lists = {name: self.add_systems(texts) for name, texts in SYSTEM_LISTS.items()}
        self.user: list[str] = [""]
        self.user_tools: list[int] = [0]
        self.tools: list[tuple[str, str]] = [("", "")]
        self.toolsets = {}
        for name, defs in tools.TOOLSETS.items():
            self.toolsets[name] = len(self.tools)
            self.tools.append((tools.encode_tools(defs, tools.ANTHROPIC), tools.encode_tools(defs, tools.OPENAI)))
        self.pools = self._load_prompts(split, extras)
        self.sys_lists["persona"] = self.add_systems([self.user[i] for i in self.pool("roles")])
        self.pools["synth"] = [(self.add_users(_synth_prompts(rng, 4_000)), 1.0)]
        self.wraps: list[tuple[str, str, str]] = [("", "", "")]
        self.wrap_lists = {n: self._add_wraps(w) for n, w in WRAPPER_LISTS.items()}
        # one row per family (FAMILY_INDEX order); every family has the same number of wrappers per split
        self.family_wraps = np.stack([self._add_wraps(templates.wrappers(f, split)) for f in templates.FAMILY_NAMES])
        # what an ordinary user who copied a template from a blog post would paste: a few renderings
        self.family_benign_sys = np.stack(
            [self.add_systems(templates.distinct_variants(f, split, 24, key=17)) for f in templates.FAMILY_NAMES]
        )
        self.snippets = [""] + [tools.answer_snippet(rng) for _ in range(400)]
        self.tails: list[tuple[str, str]] = [("", "")]
        self.tail_base = {name: self._add_tails(rng, name, depth) for name, depth in TAILS.items()}

    # ----------------------------------------------------------------------------------------- building

    def add_systems(self, texts: list[str] | tuple[str, ...]) -> np.ndarray:
        out = []
        for t in texts:
            if t not in self._sys_index:
                self._sys_index[t] = len(self.sys)
                self.sys.append(t)
            out.append(self._sys_index[t])
        return np.array(out, dtype=np.int32)

    def add_users(self, texts: list[str]) -> np.ndarray:
        start = len(self.user)
        self.user.extend(texts)
        self.user_tools.extend([0] * len(texts))
        return np.arange(start, len(self.user), dtype=np.int32)

    def _load_prompts(self, split: str, extras: bool) -> dict[str, list[tuple[np.ndarray, float]]]:
        """Load one split; return each pool as (prompt indices, weight) per corpus that is present."""
        by_corpus: dict[str, list[int]] = {}
        for p in prompts(split, extras):
            encoded = (
                (tools.encode_tools(p.tools, tools.ANTHROPIC), tools.encode_tools(p.tools, tools.OPENAI))
                if p.tools
                else None
            )
            if len(p.text) > MAX_PROMPT_CHARS or (encoded and len(encoded[0]) > MAX_TOOLS_BYTES):
                continue
            by_corpus.setdefault(p.corpus, []).append(len(self.user))
            self.user.append(p.text)
            self.user_tools.append(len(self.tools) if encoded else 0)
            if encoded:
                self.tools.append(encoded)
        return {
            pool: [(np.array(by_corpus[c], dtype=np.int32), w) for c, w in corpora if by_corpus.get(c)]
            for pool, corpora in POOLS.items()
        }

    def pool(self, name: str) -> np.ndarray:
        """All prompt indices of a pool."""
        return np.concatenate([idx for idx, _ in self.pools[name]])

    def _add_wraps(self, wraps: tuple[tuple[str, str, str], ...]) -> np.ndarray:
        start = len(self.wraps)
        self.wraps.extend(wraps)
        return np.arange(start, len(self.wraps), dtype=np.int32)

    def _add_tails(self, rng: random.Random, name: str, max_depth: int) -> int:
        """Histories of 1..max_depth steps, TAIL_VARIANTS of each length; returns the first index."""
        base = len(self.tails)
        for depth in range(1, max_depth + 1):
            for _ in range(TAIL_VARIANTS):
                if name == "chat":
                    text = "".join(tools.chat_step(rng) for _ in range(depth))
                    self.tails.append((text, text))
                else:
                    steps = [tools.agent_step(rng, name) for _ in range(depth)]
                    self.tails.append(("".join(a for a, _ in steps), "".join(o for _, o in steps)))
        return base


@functools.cache
def _library(split: str, extras: bool) -> Tables:
    lib = Tables.__new__(Tables)
    lib._build(split, extras)
    return lib


def _synth_prompts(rng: random.Random, n: int) -> list[str]:
    """The synthetic-data customer's own templated requests (its template, its slot values)."""
    slots = phrases.SYNTH_SLOTS
    return [phrases.SYNTH_TEMPLATE.format(**{k: rng.choice(v) for k, v in slots.items()}) for _ in range(n)]


@dataclass
class Content:
    """Per-request content indices (all int32 arrays of the same length)."""

    kind: np.ndarray
    sys: np.ndarray
    user: np.ndarray
    wrap: np.ndarray
    snippet: np.ndarray
    tail: np.ndarray
    tools: np.ndarray
    max_tokens: np.ndarray
    out_tokens: np.ndarray
    stop: np.ndarray
    image: np.ndarray


def choose(
    rng: np.random.Generator,
    tables: Tables,
    kind_cum: np.ndarray,
    fam_sys: np.ndarray,
    fam_wrap: np.ndarray,
    fixed_max_tokens: np.ndarray,
    task_share: np.ndarray | None = None,
) -> Content:
    """Content for n requests.

    ``kind_cum`` is each request's cumulative kind mixture (n, len(KINDS)); ``fam_sys``/``fam_wrap`` (n,
    families) give the system prompt and wrapper a campaign account uses per family (-1: not fixed, draw one
    as an ordinary user would); ``fixed_max_tokens`` (n,) overrides the kind's max_tokens when > 0;
    ``task_share`` (n,), when given, is the share of each prompt pool a request draws its task from (below 1:
    the same tasks come back, as when a harvester samples several answers per task).
    """
    n = len(kind_cum)
    kind = (kind_cum < rng.random(n)[:, None]).sum(axis=1).clip(0, len(KINDS) - 1).astype(np.int32)
    z = np.zeros(n, dtype=np.int32)
    c = Content(
        kind,
        z.copy(),
        z.copy(),
        z.copy(),
        z.copy(),
        z.copy(),
        z.copy(),
        z.copy(),
        z.copy(),
        z.copy(),
        np.zeros(n, dtype=bool),
    )
    user_tools = np.asarray(tables.user_tools, dtype=np.int32)
    rows_all = np.arange(n)
    for k, spec in enumerate(KINDS):
        rows = rows_all[kind == k]
        if not len(rows):
            continue
        m = len(rows)
        fam = np.full(m, FAMILY_INDEX[spec.family]) if spec.family else rng.integers(0, len(FAMILY_INDEX), m)
        c.user[rows] = _from_pools(rng, tables, spec.pools, m, None if task_share is None else task_share[rows])
        c.sys[rows] = _systems(rng, tables, spec, fam, fam_sys[rows], m)
        if spec.wrap == "family":
            fixed = fam_wrap[rows, fam]
            c.wrap[rows] = np.where(fixed >= 0, fixed, _pick_rows(rng, tables.family_wraps, fam))
        elif spec.wrap:
            c.wrap[rows] = rng.choice(tables.wrap_lists[spec.wrap], m)
        if spec.snippet:
            c.snippet[rows] = rng.integers(1, len(tables.snippets), m)
        if spec.tools == "prompt":
            c.tools[rows] = user_tools[c.user[rows]]
        elif spec.tools != "none":
            c.tools[rows] = tables.toolsets[spec.tools]
        if spec.tail != "none":
            med, sigma, top = spec.depth
            depth = np.clip(np.rint(med * rng.lognormal(0, sigma, m)), 1, top).astype(np.int32)
            has = rng.random(m) < spec.tail_p
            idx = tables.tail_base[spec.tail] + (depth - 1) * TAIL_VARIANTS + rng.integers(0, TAIL_VARIANTS, m)
            c.tail[rows] = np.where(has, idx, 0)
        mt = rng.choice(np.asarray(spec.max_tokens, dtype=np.int32), m)
        fixed_mt = fixed_max_tokens[rows]
        c.max_tokens[rows] = np.where(fixed_mt > 0, fixed_mt, mt)
        med, sigma = spec.out_tokens
        out = np.maximum(1, np.rint(med * rng.lognormal(0, sigma, m))).astype(np.int32)
        c.out_tokens[rows] = np.minimum(out, c.max_tokens[rows])
        stop = np.where(out >= c.max_tokens[rows], STOP_MAX, STOP_END)
        c.stop[rows] = np.where((stop == STOP_END) & (rng.random(m) < spec.tool_stop), STOP_TOOL, stop)
        c.image[rows] = spec.image
    return c


def _pick_rows(rng: np.random.Generator, options: np.ndarray, row: np.ndarray) -> np.ndarray:
    """One random entry of ``options[row[i]]`` for each i (options: a 2-D table, one row per family)."""
    return options[row, rng.integers(0, options.shape[1], len(row))]


def _from_pools(
    rng: np.random.Generator,
    tables: Tables,
    pools: tuple[tuple[str, float], ...],
    m: int,
    share: np.ndarray | None = None,
) -> np.ndarray:
    """A prompt per request: pool by the kind's weights, corpus by the pool's weights, prompt uniformly (from
    the first ``share`` of the corpus where given; the random draws are the same either way, so worlds
    without the knob are unchanged)."""
    parts = [(idx, w * cw) for name, w in pools for idx, cw in tables.pools[name]]
    p = np.array([w for _, w in parts], dtype=float)
    which = rng.choice(len(parts), m, p=p / p.sum())
    out = np.zeros(m, dtype=np.int32)
    for i, (idx, _) in enumerate(parts):
        sel = which == i
        pick = rng.integers(0, len(idx), int(sel.sum()))
        if share is not None:
            pick %= np.maximum(1, (len(idx) * share[sel]).astype(np.int64))
        out[sel] = idx[pick]
    return out


def _systems(
    rng: np.random.Generator, tables: Tables, spec: Kind, fam: np.ndarray, fam_sys: np.ndarray, m: int
) -> np.ndarray:
    names = [s for s, _ in spec.system]
    w = np.array([w for _, w in spec.system], dtype=float)
    which = rng.choice(len(names), m, p=w / w.sum())
    out = np.zeros(m, dtype=np.int32)
    for i, name in enumerate(names):
        sel = np.flatnonzero(which == i)
        if name == "none" or not len(sel):
            continue
        if name == "family":
            fixed = fam_sys[sel, fam[sel]]
            out[sel] = np.where(fixed >= 0, fixed, _pick_rows(rng, tables.family_benign_sys, fam[sel]))
        else:
            out[sel] = rng.choice(tables.sys_lists[name], len(sel))
    return out
