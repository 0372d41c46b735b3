"""Where the REAL Claude Code CLI puts token use and cost (offline, against
tests.support.fake_anthropic answering with chosen `usage` numbers).

Pins what worker/usage.py relies on: the transcript's assistant lines carry the API's
usage, one line per content block with the id and usage repeated; the Stop hook carries
none; only the statusLine command's JSON has a cost (cumulative, per CLI process) and the
context window's size. And the race the worker handles: the answer's line may reach the
transcript after the Stop hook ran.
"""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_anthropic import FakeAnthropic, ToolCall
from tests.support.harness import wait_until
from tests.support.real_claude import (
    DEFAULT_API_KEY,
    HOOK_WRITER,
    NOT_FOUND_REASON,
    ClaudePane,
    find_real_claude,
    hook_settings,
    read_hook_events,
    real_claude_env,
    seed_claude_home,
    stop_all,
    write_claude_wrapper,
)
from tests.support.tmux import TmuxServer
from vai.worker.session_state import SessionState
from vai.worker.usage import UsageReader

CLAUDE = find_real_claude()
pytestmark = [
    pytest.mark.realclaude,
    pytest.mark.skipif(CLAUDE is None, reason=NOT_FOUND_REASON),
    pytest.mark.timeout(120),
]
USAGE = {
    "input_tokens": 1234,
    "cache_creation_input_tokens": 2000,
    "cache_read_input_tokens": 30000,
    "output_tokens": 77,
}


@pytest.fixture
def pane(short_tmp: Path, tmux_server: TmuxServer) -> Iterator[tuple[ClaudePane, Path]]:
    work, home = short_tmp / "work", short_tmp / "home"
    work.mkdir()
    status_log = short_tmp / "status.jsonl"
    settings: dict[str, Any] = hook_settings(
        short_tmp / "hooks.jsonl", ("UserPromptSubmit", "Stop")
    )
    writer = shlex.join([sys.executable, "-I", "-S", "-c", HOOK_WRITER, str(status_log)])
    settings["statusLine"] = {"type": "command", "command": writer}
    seed_claude_home(
        home, work, DEFAULT_API_KEY, default_mode="bypassPermissions",
        skip_dangerous_prompt=True, extra_settings=settings,
    )  # fmt: skip
    with FakeAnthropic(usage=USAGE) as fake:
        fake.on("tool please", ToolCall("Bash", {"command": "echo hi"}, text="running"))
        env = real_claude_env(home, short_tmp / "tmp", fake.base_url)
        claude = write_claude_wrapper(
            short_tmp / "claude", env, CLAUDE, extra_args="--dangerously-skip-permissions"
        )
        claude_pane = ClaudePane(tmux_server, "claude", short_tmp / "hooks.jsonl")
        claude_pane.start(str(claude), work)
        try:
            yield claude_pane, status_log
        finally:
            stop_all(tmux_server, short_tmp)


def test_usage_is_in_the_transcript_and_cost_only_in_the_status_line(
    pane: tuple[ClaudePane, Path],
) -> None:
    claude, status_log = pane
    claude.wait_idle()
    state = SessionState()
    transcript: list[Path] = []
    reader = UsageReader(lambda: transcript[0])

    def turn(prompt: str, answer: str, stops: int) -> Any:
        claude.submit(prompt)
        stop = claude.wait_event("Stop", 30, after=stops)
        assert stop["last_assistant_message"] == answer
        assert not {key for key in stop if "usage" in key or "cost" in key or "token" in key}
        transcript[:] = [Path(stop["transcript_path"])]
        # The answer's line may come a moment after Stop (worker/usage.py waits for it).
        wait_until(lambda: reader.peek(state).last_text == answer, 10, "the answer's line")
        return reader.take(state).usage

    first = turn("hello there", "echo: hello there", 0)
    assert first is not None and first.api_calls == 1
    assert (first.input_tokens, first.output_tokens) == (1234, 77)
    assert (first.cache_read_tokens, first.cache_write_tokens) == (30000, 2000)
    assert first.context_tokens == 33234 and first.cost_usd is None
    assert first.model  # the model the request named

    # A tool call: two API calls, the first written as two lines (text, tool_use).
    second = turn("tool please", "tool said: hi", 1)
    assert second is not None and second.api_calls == 2
    assert (second.input_tokens, second.output_tokens) == (2468, 154)
    lines = [json.loads(line) for line in transcript[0].read_text().splitlines()]
    ids = [e["message"]["id"] for e in lines if e.get("type") == "assistant"]
    assert len(ids) == 4 and len(set(ids)) == 3  # one response, two lines
    assert not any("costUSD" in e or "cost" in e.get("message", {}) for e in lines)

    # The status line's JSON: the CLI's own cost (cumulative) and the context window.
    def costed() -> dict[str, Any] | None:
        events = read_hook_events(status_log)
        return next((e for e in events if e.get("cost", {}).get("total_cost_usd", 0) > 0), None)

    status = wait_until(costed, 15, "a status line with a cost")
    assert status["context_window"]["context_window_size"] > 0
    assert status["context_window"]["current_usage"]["cache_read_input_tokens"] == 30000
