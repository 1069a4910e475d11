"""The output-side safeguard's transforms and the native log writer's files."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import orjson
import pytest

from distillguard.engines.duckdb_api import DuckDBAPI
from distillguard.gateway.logwriter import LogWriter
from distillguard.gateway.safeguard import MARK, Safeguard, SseFilter, apply_request, apply_response
from distillguard.gateway.standin import THINKING, _anthropic_events, _anthropic_message, _openai_completion, _sse
from distillguard.store.ingest import ingest


def test_request_caps_max_tokens_and_drops_thinking_only_when_withholding() -> None:
    body = {"max_tokens": 8000, "thinking": {"type": "enabled", "budget_tokens": 6000}, "messages": []}
    assert apply_request(body, Safeguard("withhold", 1024)) == {"max_tokens": 1024, "messages": []}
    summarised = apply_request(body, Safeguard("summarise", 2048))
    assert summarised["max_tokens"] == 2048 and summarised["thinking"]["budget_tokens"] < 2048
    assert apply_request({"messages": []}, Safeguard("keep", 512)) == {"messages": [], "max_tokens": 512}
    assert (
        apply_request({"max_completion_tokens": 100, "messages": []}, Safeguard("keep", 512))["max_completion_tokens"]
        == 100
    )
    assert body["max_tokens"] == 8000  # the original is not mutated (it is what gets logged)


def test_response_withhold_and_summarise() -> None:
    withheld = apply_response(_anthropic_message(), Safeguard("withhold"))
    assert [b["type"] for b in withheld["content"]] == ["text"]
    short = apply_response(_anthropic_message(), Safeguard("summarise", summary_chars=100))
    thinking = short["content"][0]
    assert thinking["thinking"].endswith(MARK) and len(thinking["thinking"]) < 100 + len(MARK)
    assert "signature" not in thinking and THINKING.startswith(thinking["thinking"].removesuffix(MARK))
    openai = apply_response(_openai_completion("m"), Safeguard("withhold"))
    assert "reasoning_content" not in openai["choices"][0]["message"]


async def _collect(events) -> bytes:
    return b"".join([chunk async for chunk in _sse(events)])


@pytest.mark.parametrize("chunk", [1, 7, 64, 100_000])
@pytest.mark.parametrize("mode", ["withhold", "summarise"])
def test_sse_filter_is_independent_of_chunk_boundaries(chunk: int, mode: str) -> None:
    import asyncio

    raw = asyncio.run(_collect(_anthropic_events()))
    f = SseFilter(Safeguard(mode, summary_chars=80))
    out = b"".join(f.feed(raw[i : i + chunk]) for i in range(0, len(raw), chunk)) + f.close()
    events = [orjson.loads(line[6:]) for line in out.split(b"\n") if line.startswith(b"data: ")]
    text = "".join(e["delta"]["text"] for e in events if e.get("delta", {}).get("type") == "text_delta")
    thinking = [e["delta"]["thinking"] for e in events if e.get("delta", {}).get("type") == "thinking_delta"]
    assert text == "The answer is 42." and events[-1]["type"] == "message_stop"
    if mode == "withhold":
        assert thinking == [] and b"thinking" not in out
    else:
        assert len(thinking) == 1 and thinking[0].endswith(MARK)


def test_log_writer_rotates_publishes_and_loses_nothing_across_threads(tmp_path: Path) -> None:
    writer = LogWriter(tmp_path, max_bytes=2000)

    def work(t: int) -> None:
        for i in range(250):
            writer.write(
                {
                    "request_id": f"r{t}_{i}",
                    "timestamp": 1_770_000_000_000,
                    "account_id": "a",
                    "request": {"messages": [{"role": "user", "content": "x"}]},
                }
            )
            if i % 50 == 0:
                writer.flush()

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.flush()
    work_line = {"request_id": "last", "timestamp": 1_770_000_000_000, "account_id": "a", "request": {}}
    writer.write(work_line)
    writer.flush()
    assert list(tmp_path.glob(".gateway-*"))  # the file being written is hidden until complete
    writer.close()
    assert not list(tmp_path.glob(".gateway-*"))
    files = sorted(tmp_path.glob("gateway-*.jsonl"))
    assert len(files) > 2  # rotated by size
    ids = [orjson.loads(x)["request_id"] for f in files for x in f.read_bytes().splitlines()]
    assert len(ids) == 1001 == len(set(ids)) == writer.lines_written
    with DuckDBAPI(tmp_path / "store.duckdb") as db:  # the next ingest reads them as native logs
        summary = ingest(db, [tmp_path])
        assert summary.total("events_added") == 1000 and summary.total("quarantined") == 1  # "last" has no messages


def test_file_of_a_killed_writer_is_published_by_the_next(tmp_path: Path) -> None:
    code = (
        "import os, sys; from pathlib import Path; from distillguard.gateway.logwriter import LogWriter;"
        "w = LogWriter(Path(sys.argv[1])); w.write({'request_id': 'orphan'}); w.flush(); os._exit(0)"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, env=env, timeout=60)
    assert len(list(tmp_path.glob(".gateway-*.jsonl"))) == 1
    LogWriter(tmp_path).close()
    [published] = tmp_path.glob("gateway-*.jsonl")
    assert b"orphan" in published.read_bytes()


def test_log_writer_writes_objects_json_cannot_hold_natively(tmp_path: Path) -> None:
    class Message:  # what a LiteLLM message object offers
        def model_dump(self) -> dict:
            return {"role": "user", "content": "hi"}

    writer = LogWriter(tmp_path)
    writer.write({"request_id": "r1", "request": {"messages": [Message()]}, "other": Path("/x")})
    writer.close()
    [line] = [orjson.loads(x) for f in tmp_path.glob("gateway-*.jsonl") for x in f.read_bytes().splitlines()]
    assert line["request"]["messages"] == [{"role": "user", "content": "hi"}] and line["other"] == "/x"


def test_log_writer_write_never_waits_for_a_flush_in_progress(tmp_path: Path) -> None:
    """The gateway flushes in a worker thread; a request appending its line meanwhile must not block on the
    disk. A flush is held inside its file write; lines written then are kept for the next flush, and `close`
    writes them all."""
    writer = LogWriter(tmp_path)
    writer.write({"request_id": "first"})
    writer.flush()  # opens the file
    inside, release = threading.Event(), threading.Event()
    real = writer._file

    class SlowFile:
        def write(self, data):
            inside.set()
            release.wait(30)
            return real.write(data)

        def __getattr__(self, name):
            return getattr(real, name)

    writer._file = SlowFile()  # type: ignore[assignment]
    writer.write({"request_id": "second"})
    flusher = threading.Thread(target=writer.flush)
    flusher.start()
    assert inside.wait(30)
    wrote = threading.Event()

    def requests() -> None:
        for i in range(3):
            writer.write({"request_id": f"during{i}"})
        wrote.set()

    threading.Thread(target=requests).start()
    done_while_stuck = wrote.wait(30)  # not a speed limit: without the fix these writes wait for `release`
    release.set()
    assert done_while_stuck and writer.pending == 3
    flusher.join(30)
    writer._file = real
    writer.close()
    [f] = tmp_path.glob("gateway-*.jsonl")
    ids = [orjson.loads(x)["request_id"] for x in f.read_bytes().splitlines()]
    assert ids == ["first", "second", "during0", "during1", "during2"]


def test_log_writer_keeps_lines_it_could_not_write(tmp_path: Path) -> None:
    directory = tmp_path / "logs"
    writer = LogWriter(directory)
    writer.write({"request_id": "a"})
    directory.rmdir()  # the file cannot be opened
    with pytest.raises(OSError):
        writer.flush()
    assert writer.pending == 1
    directory.mkdir()
    writer.write({"request_id": "b"})
    writer.close()
    ids = [
        orjson.loads(x)["request_id"] for f in directory.glob("gateway-*.jsonl") for x in f.read_bytes().splitlines()
    ]
    assert ids == ["a", "b"]
