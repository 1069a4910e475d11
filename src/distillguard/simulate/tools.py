"""Tool definitions and agent-loop histories, encoded for both request styles (Anthropic and OpenAI).

Why: agentic traffic is where the harvest is (DESIGN §1) and also where the heaviest legitimate users are
(coding-agent platforms), so both must send the same *kind* of body: tool schemas plus long histories of
tool calls and results. Histories are generated once per simulation as JSON fragments (one step = an
assistant tool call and its result) and reused by index, which keeps per-request work to a table lookup.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from distillguard.simulate.phrases import ANSWER_BODIES, ANSWER_OPENERS, FOLLOWUPS

ANTHROPIC, OPENAI = 0, 1  # request styles


def _tool(tool_name: str, description: str, /, *props: str) -> dict[str, Any]:
    schema = {"type": "object", "properties": {k: {"type": "string"} for k in props}, "required": list(props[:1])}
    return {"name": tool_name, "description": description, "input_schema": schema}


TOOLSETS: dict[str, list[dict[str, Any]]] = {
    "platform": [
        _tool("read_file", "Read a file from the user's workspace.", "path"),
        _tool("write_file", "Create or overwrite a file.", "path", "content"),
        _tool("list_directory", "List the entries of a directory.", "path"),
        _tool("run_command", "Run a shell command in the sandbox.", "command"),
        _tool("search_code", "Search the workspace for a regular expression.", "query"),
        _tool("run_tests", "Run the project's test suite.", "path"),
        _tool("apply_patch", "Apply a unified diff to the workspace.", "patch"),
        _tool("web_fetch", "Fetch a documentation page as text.", "url"),
    ],
    "swe": [
        _tool("bash", "Execute a bash command and return stdout and stderr.", "command"),
        _tool(
            "str_replace_editor",
            "View or edit files by exact string replacement.",
            "command",
            "path",
            "old_str",
            "new_str",
        ),
        _tool("create_file", "Create a new file with the given content.", "path", "file_text"),
        _tool("run_tests", "Run tests and report failures.", "selector"),
        _tool("submit", "Submit the final patch when the task is complete.", "summary"),
    ],
    "orchestrator": [
        _tool("spawn_subagent", "Start a sub-agent on a subtask.", "task", "role"),
        _tool("wait_for_subagent", "Wait for a sub-agent and return its result.", "agent_id"),
        _tool("read_artifact", "Read a shared artifact.", "name"),
        _tool("write_artifact", "Write a shared artifact.", "name", "content"),
        _tool("run_python", "Run Python code and return its output.", "code"),
    ],
    "computer": [
        _tool("computer", "Control the screen: screenshot, click, type, scroll.", "action", "coordinate", "text"),
        _tool("bash", "Run a shell command.", "command"),
        _tool("text_editor", "View and edit text files.", "command", "path"),
    ],
    "assistant": [
        _tool("get_weather", "Current weather for a city.", "city"),
        _tool("search_web", "Search the web and return the top results.", "query"),
        _tool("calculator", "Evaluate an arithmetic expression.", "expression"),
        _tool("get_time", "Current time in a time zone.", "timezone"),
    ],
}

_PATHS = (
    "src/app/models.py",
    "src/app/views.py",
    "tests/test_api.py",
    "package.json",
    "src/index.ts",
    "README.md",
    "lib/utils.go",
    "app/routes/users.js",
    "setup.cfg",
    "src/main.rs",
    "docs/index.md",
)
_COMMANDS = (
    "pytest -q",
    "ls -la",
    "git diff",
    "npm test",
    "go test ./...",
    "cargo build",
    "git status",
    "python -m mypy src",
    "grep -rn TODO src",
    "make lint",
    "pip install -e .",
)
_RESULTS = (
    "3 passed, 1 failed in 0.42s",
    "OK",
    "error: cannot find module 'express'",
    "Build succeeded.",
    "def handler(request):\n    user = get_user(request)\n    return render(user)",
    "FAILED tests/test_api.py::test_create - AssertionError: 404 != 201",
    "no matches",
    "modified:   src/app/models.py",
    "All checks passed.",
    "TypeError: 'NoneType' object is not iterable",
    '{"status": "ok", "items": 12}',
    "Sub-agent finished: 4 files changed, tests green.",
)
_THOUGHTS = (
    "Let me look at the relevant file first.",
    "I'll run the tests to see what fails.",
    "The error suggests a missing import.",
    "Now I'll apply the fix.",
    "Checking the result.",
    "I need more context about this function.",
    "Let me search for where this is defined.",
    "",
)
_SCREENSHOT = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="


def _input(rng: random.Random, tool: dict[str, Any]) -> dict[str, str]:
    values = {
        "path": rng.choice(_PATHS),
        "command": rng.choice(_COMMANDS),
        "query": rng.choice(_PATHS)[:6],
        "action": rng.choice(("screenshot", "left_click", "type")),
        "coordinate": f"{rng.randint(0, 1279)},{rng.randint(0, 799)}",
        "city": rng.choice(("Paris", "Lagos", "Lima", "Osaka")),
    }
    props = tool["input_schema"]["properties"]
    return {k: values.get(k, rng.choice(_RESULTS)[:40]) for k in list(props)[: rng.randint(1, len(props))]}


def agent_step(rng: random.Random, toolset: str) -> tuple[str, str]:
    """One tool call and its result as message fragments (Anthropic, OpenAI), each prefixed with a comma."""
    tool = rng.choice(TOOLSETS[toolset])
    args = _input(rng, tool)
    call_id = f"{rng.getrandbits(64):016x}"
    thought = rng.choice(_THOUGHTS)
    image = toolset == "computer" and args.get("action") == "screenshot"
    result = rng.choice(_RESULTS)
    content: list[dict[str, Any]] = [{"type": "text", "text": thought}] if thought else []
    content.append({"type": "tool_use", "id": f"toolu_{call_id}", "name": tool["name"], "input": args})
    shown: Any = (
        [{"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": _SCREENSHOT}}]
        if image
        else result
    )
    anthropic = [
        {"role": "assistant", "content": content},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": f"toolu_{call_id}", "content": shown}]},
    ]
    call = {
        "id": f"call_{call_id}",
        "type": "function",
        "function": {"name": tool["name"], "arguments": orjson.dumps(args).decode()},
    }
    openai = [
        {"role": "assistant", "content": thought or None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": f"call_{call_id}", "content": "[screenshot]" if image else result},
    ]
    return tuple("".join("," + orjson.dumps(m).decode() for m in msgs) for msgs in (anthropic, openai))


def chat_step(rng: random.Random) -> str:
    """One earlier assistant answer and the user's follow-up (same shape in both styles)."""
    answer = f"{rng.choice(ANSWER_OPENERS)} {rng.choice(ANSWER_BODIES)}"
    msgs = [{"role": "assistant", "content": answer}, {"role": "user", "content": rng.choice(FOLLOWUPS)}]
    return "".join("," + orjson.dumps(m).decode() for m in msgs)


def answer_snippet(rng: random.Random) -> str:
    """A plausible earlier model answer, for grading and reconstruction prompts."""
    return f"{rng.choice(ANSWER_OPENERS)} {rng.choice(ANSWER_BODIES)} {rng.choice(ANSWER_BODIES)}"


_BFCL_TYPES = {"dict": "object", "float": "number", "tuple": "array"}


def _json_schema(node: Any) -> Any:
    """BFCL writes Python type names ("dict", "float", "any"); requests carry JSON Schema."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "type" and isinstance(v, str):
                if v != "any":
                    out[k] = _BFCL_TYPES.get(v, v)
            else:
                out[k] = _json_schema(v)
        return out
    if isinstance(node, list):
        return [_json_schema(v) for v in node]
    return node


def encode_tools(tools: list[dict[str, Any]], style: int) -> str:
    """A tool list as the JSON array of one request style. Accepts ``input_schema`` or BFCL ``parameters``."""
    out = []
    for t in tools:
        schema = _json_schema(t.get("input_schema") or t.get("parameters") or {"type": "object"})
        desc = t.get("description", "")
        name = t["name"].replace(".", "_")[:64]  # API tool names allow [A-Za-z0-9_-] only
        if style == ANTHROPIC:
            out.append({"name": name, "description": desc, "input_schema": schema})
        else:
            out.append({"type": "function", "function": {"name": name, "description": desc, "parameters": schema}})
    return orjson.dumps(out).decode()
