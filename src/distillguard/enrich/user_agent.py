"""Classify HTTP user agents into sdk / cli / crawler / browser / empty / other, naming the client library.

Why: harvesting runs are scripted, so a fleet of "consumer" accounts all calling through python-requests or
one SDK version, or a crawler UA on an API endpoint, is a linkage and anomaly signal. The client table below
is small and hand-written; crawler patterns come from the shipped monperrus/crawler-user-agents list
(``data/network/crawler_user_agents.json``). Every test is a vectorised pyarrow RE2 match over the column
of distinct user agents; crawler patterns are combined into a handful of alternations (one alternation of
all 1,500 patterns defeats RE2's DFA cache and is ~100x slower than chunks of a few hundred).

Order of precedence: empty > client table (first matching row wins) > crawler > browser > other. The client
table wins over the crawler list because that list also contains generic HTTP libraries (python-requests,
curl, okhttp...) that we want to name rather than call crawlers.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.enrich.network import as_string_array

UA_FAMILIES = ("sdk", "browser", "crawler", "cli", "empty", "other")


@dataclass(frozen=True)
class ClientPattern:
    """One known client: ``regex`` (RE2, searched anywhere unless anchored) identifies ``name``.

    ``example`` is a real-world user agent of that client; the tests check every example classifies as
    its own row, so the table documents and tests itself.
    """

    name: str
    family: str
    regex: str
    example: str


# First match wins, so LLM frameworks come before the SDKs they wrap, and SDKs before generic HTTP libraries.
# fmt: off
CLIENT_PATTERNS: tuple[ClientPattern, ...] = tuple(ClientPattern(*row) for row in (
    # Claude Code terminal agent.
    ("claude-code", "cli", r"^claude-cli/", "claude-cli/1.0.33 (external, cli)"),
    # LiteLLM library/proxy; it wraps the OpenAI SDK, so it is checked first.
    ("litellm", "sdk", r"(?i)\blitellm\b", "litellm/1.55.3"),
    # LangChain integrations (Python and JS) that set their own UA.
    ("langchain", "sdk", r"(?i)\blangchain", "langchain-anthropic/0.3.0"),
    # LlamaIndex framework.
    ("llamaindex", "sdk", r"(?i)\bllama[-_ ]?index\b", "llama-index/0.12.0"),
    # Official Anthropic Python SDK ("Anthropic/Python x"; the native log example uses "anthropic-python/x").
    ("anthropic-python", "sdk", r"(?i)^anthropic[/ -](?:sdk-)?python\b", "Anthropic/Python 0.49.0"),
    # Official Anthropic TypeScript/JavaScript SDK.
    ("anthropic-js", "sdk", r"(?i)^anthropic[/ -](?:sdk-)?(?:js|typescript|node)\b", "Anthropic/JS 0.39.0"),
    # Official OpenAI Python SDK.
    ("openai-python", "sdk", r"(?i)^openai[/ -]python\b", "OpenAI/Python 1.55.0"),
    # Official OpenAI Node/TypeScript SDK.
    ("openai-node", "sdk", r"(?i)^openai[/ -](?:js|node)\b", "OpenAI/JS 4.73.0"),
    # Google Gen AI SDK (Gemini and Vertex AI clients).
    ("google-genai", "sdk", r"(?i)\bgoogle-genai-sdk/", "google-genai-sdk/1.2.0 gl-python/3.11.7"),
    # Generic HTTP libraries' default UAs: scripted traffic that did not set its own.
    ("python-requests", "sdk", r"^python-requests/", "python-requests/2.32.3"),
    ("python-httpx", "sdk", r"^python-httpx/", "python-httpx/0.27.2"),
    ("aiohttp", "sdk", r"\baiohttp/", "Python/3.11 aiohttp/3.10.10"),
    ("python-urllib", "sdk", r"^Python-urllib/", "Python-urllib/3.11"),
    ("go-http-client", "sdk", r"^Go-http-client/", "Go-http-client/2.0"),
    ("okhttp", "sdk", r"^okhttp/", "okhttp/4.12.0"),
    ("java-http-client", "sdk", r"^Java(?:-http-client)?/", "Java-http-client/21.0.2"),
    ("apache-httpclient", "sdk", r"^Apache-HttpClient/", "Apache-HttpClient/4.5.14 (Java/17.0.9)"),
    ("axios", "sdk", r"^axios/", "axios/1.7.7"),
    ("node-fetch", "sdk", r"^node-fetch(?:/|$)", "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)"),
    # Node's built-in fetch (undici) sends the bare token "node" (older versions "undici").
    ("undici", "sdk", r"^(?:undici|node)$", "node"),
    ("guzzle", "sdk", r"^GuzzleHttp/", "GuzzleHttp/7"),
    # Command-line and API-testing tools.
    ("curl", "cli", r"^curl/", "curl/8.5.0"),
    ("wget", "cli", r"^Wget/", "Wget/1.21.4"),
    ("httpie", "cli", r"^HTTPie/", "HTTPie/3.2.2"),
    # Invoke-WebRequest/Invoke-RestMethod; its UA starts "Mozilla/5.0 (" and must not become a browser.
    ("powershell", "cli", r"WindowsPowerShell/",
     "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.19041.4648"),
    ("postman", "cli", r"^PostmanRuntime/", "PostmanRuntime/7.42.0"),
))
# fmt: on

# A browser: Mozilla/5.0 with a rendering-engine token, and not matched by the crawler list.
_BROWSER_RE = r"^Mozilla/5\.0 \(.*(?:AppleWebKit/|Gecko/|Trident/|Presto/)"
_CRAWLER_CHUNK = 200


def _read_json(name: str) -> Any:
    ref = resources.files("distillguard") / "data" / "network" / name
    return json.loads(ref.read_text(encoding="utf-8"))


@functools.cache
def crawler_patterns() -> tuple[dict[str, Any], ...]:
    """The shipped crawler list: ``{"pattern": RE2 regex, "instances": [example UAs]}`` per entry."""
    return tuple(_read_json("crawler_user_agents.json"))


@functools.cache
def top_user_agents() -> tuple[str, ...]:
    """The shipped list of 100 common real browser user agents, most common first (e.g. for simulation)."""
    return tuple(_read_json("top_user_agents.json"))


@functools.cache
def _crawler_regexes() -> tuple[str, ...]:
    pats = [e["pattern"] for e in crawler_patterns()]
    return tuple(
        "|".join(f"(?:{p})" for p in pats[i : i + _CRAWLER_CHUNK]) for i in range(0, len(pats), _CRAWLER_CHUNK)
    )


def _match(text: pa.Array, regex: str) -> np.ndarray:
    hit = pc.match_substring_regex(text, regex).fill_null(False)
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


def _match_where(text: pa.Array, rows: np.ndarray, regexes: tuple[str, ...] | list[str]) -> np.ndarray:
    """Boolean over all rows: any of ``regexes`` matches, evaluated only on ``rows`` (a mask)."""
    out = np.zeros(len(text), dtype=bool)
    idx = np.flatnonzero(rows)
    if len(idx) == 0:
        return out
    sub = text.take(pa.array(idx, pa.int64()))
    hit = np.zeros(len(idx), dtype=bool)
    for regex in regexes:
        todo = ~hit
        if not todo.any():
            break
        hit[todo] |= _match(sub.filter(pa.array(todo)), regex)
    out[idx] = hit
    return out


def classify_user_agents(uas: Any) -> pa.Table:
    """One row per input, in order: ``user_agent`` (as given), ``ua_family``, ``ua_sdk`` (client or null).

    ``uas``: pyarrow string (Chunked)Array or sequence of str; pass distinct values. Null, empty and
    whitespace-only user agents are family "empty" (a missing header and an empty one mean the same).
    """
    raw = as_string_array(uas)
    n = len(raw)
    text = pc.utf8_trim_whitespace(raw)
    empty = np.asarray(pc.fill_null(pc.equal(pc.utf8_length(text), 0), True).to_numpy(zero_copy_only=False))
    families = list(UA_FAMILIES)
    family = np.full(n, families.index("other"), dtype=np.int8)
    family[empty] = families.index("empty")

    client = np.full(n, -1, dtype=np.int16)
    for k in range(len(CLIENT_PATTERNS) - 1, -1, -1):  # reverse so the first matching row wins
        client[_match(text, CLIENT_PATTERNS[k].regex) & ~empty] = k
    known = client >= 0
    family_of_client = np.array([families.index(p.family) for p in CLIENT_PATTERNS], dtype=np.int8)
    family[known] = family_of_client[client[known]]

    rest = ~empty & ~known
    crawler = _match_where(text, rest, _crawler_regexes())
    family[crawler] = families.index("crawler")
    browser = _match_where(text, rest & ~crawler, [_BROWSER_RE])
    family[browser] = families.index("browser")

    names = pa.array([p.name for p in CLIENT_PATTERNS], pa.string())
    return pa.table(
        {
            "user_agent": raw,
            "ua_family": pc.take(pa.array(families), pa.array(family)),
            "ua_sdk": pc.take(names, pa.array(client, mask=~known)),
        }
    )
