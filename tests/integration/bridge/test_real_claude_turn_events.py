"""What the REAL Claude Code CLI sends for turns that fail, prompts it gives itself and
background work (offline, against tests.support.fake_anthropic): the payloads the bridge
relies on (protocol/hooks.py StopFailure, Stop.background_tasks, UserPromptSubmit.source;
worker/turns/origins.py), written up in tests/fixtures/real_screens/README.md ("Turns that
fail"). Skips when the CLI is not installed (tests/support/real_claude.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_anthropic import (
    INVALID_REQUEST,
    OVERLOADED,
    RATE_LIMITED,
    ApiError,
    FakeAnthropic,
    ToolCall,
)
from tests.support.harness import wait_until
from tests.support.real_claude import (
    DEFAULT_API_KEY,
    NOT_FOUND_REASON,
    ClaudePane,
    find_real_claude,
    hook_settings,
    real_claude_env,
    seed_claude_home,
    stop_all,
    write_claude_wrapper,
)
from tests.support.tmux import TmuxServer
from vai.protocol.hooks import Stop, StopFailure, UserPromptSubmit, decode_hook
from vai.worker.screen import read_screen
from vai.worker.turns.origins import failure_text, foreign_origin

CLAUDE = find_real_claude()
pytestmark = [
    pytest.mark.realclaude,
    pytest.mark.skipif(CLAUDE is None, reason=NOT_FOUND_REASON),
    pytest.mark.timeout(180),
]
EVENTS = ("SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "Stop", "StopFailure")


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def pane(short_tmp: Path, tmux_server: TmuxServer, fake: FakeAnthropic) -> Iterator[ClaudePane]:
    """The CLI at its prompt, retrying a failed request once (its default is 10 times,
    with backoff: a 529 took 188 s to end in StopFailure)."""
    work, home, log = short_tmp / "work", short_tmp / "home", short_tmp / "hooks.jsonl"
    work.mkdir()
    settings = short_tmp / "settings.json"
    settings.write_text(json.dumps(hook_settings(log, EVENTS)))
    env = real_claude_env(home, short_tmp / "tmp", fake.base_url)
    claude = write_claude_wrapper(
        short_tmp / "claude", {**env, "CLAUDE_CODE_MAX_RETRIES": "1"}, CLAUDE
    )
    seed_claude_home(
        home, work, DEFAULT_API_KEY, default_mode="bypassPermissions", skip_dangerous_prompt=True
    )
    pane = ClaudePane(tmux_server, "claude", log)
    try:
        pane.start(f"{claude} --settings {settings}", work)
        pane.wait_idle(60)
        yield pane
    finally:
        stop_all(tmux_server, short_tmp)


def turn_end(pane: ClaudePane, submitted: dict[str, Any]) -> dict[str, Any]:
    """The Stop or StopFailure of the turn `submitted` started."""
    prompt_id = submitted["prompt_id"]

    def ended() -> dict[str, Any] | None:
        return next(
            (
                e
                for e in pane.events()
                if e["hook_event_name"] in ("Stop", "StopFailure") and e["prompt_id"] == prompt_id
            ),
            None,
        )

    return wait_until(ended, 60, "the turn's end", every=0.05)


@pytest.mark.parametrize(
    "case",
    [
        (INVALID_REQUEST, "invalid_request", "Prompt is too long", 1),  # never retried
        (OVERLOADED, "server_error", "API Error: 529 Overloaded.", 2),  # 529: server_error
        (RATE_LIMITED, "rate_limit", "API Error: Request rejected (429)", 2),
    ],
)
def test_an_api_error_ends_the_turn_with_stop_failure(
    pane: ClaudePane, fake: FakeAnthropic, case: tuple[ApiError, str, str, int]
) -> None:
    error, kind, said, requests = case
    fake.on("this will fail", error)
    submitted = pane.submit("this will fail")
    assert submitted is not None
    raw = turn_end(pane, submitted)
    assert raw["hook_event_name"] == "StopFailure"  # and no Stop for that turn
    assert (raw["error"], raw["prompt_id"]) == (kind, submitted["prompt_id"])
    assert raw["last_assistant_message"].startswith(said)
    hook = decode_hook(json.dumps(raw).encode())
    assert isinstance(hook, StopFailure) and failure_text(hook).startswith(said)
    if kind == "invalid_request":
        assert raw["error_details"].startswith('400 {"type":"error"')
    assert len(fake.message_requests) == requests
    assert not pane.events("Stop")
    # Idle again, with a placeholder in the box that is no text (the next prompt goes in).
    screen = pane.wait_screen(lambda s: read_screen(s).state == "idle", 15, "idle")
    box = next(line for line in screen.splitlines() if line.startswith("❯\u00a0"))
    assert box.removeprefix("❯\u00a0").strip() in (
        "Resend your message to try again",
        "Once fixed, resend your message",
    )
    assert read_screen(screen).input_text == ""
    again = pane.submit("and now?")
    assert again is not None and turn_end(pane, again)["last_assistant_message"] == "echo: and now?"


def test_a_prompt_says_no_source_and_a_background_task_ends_in_a_turn_of_its_own(
    pane: ClaudePane, fake: FakeAnthropic
) -> None:
    call = ToolCall(
        "Bash",
        {"command": "sleep 2; echo bg", "run_in_background": True, "description": "nap"},
    )
    fake.on("work in background", call, after_tool=lambda _result: "started it")
    fake.on(lambda text: not text.strip(), "the nap is over", times=1)
    submitted = pane.submit("work in background")
    assert submitted is not None
    # 2.1.330 and 2.1.332: no `source` (its schema has it; the build leaves it out).
    assert "source" not in submitted
    stop = turn_end(pane, submitted)
    assert stop["hook_event_name"] == "Stop" and stop["last_assistant_message"] == "started it"
    [task] = stop["background_tasks"]
    assert (task["type"], task["status"], task["description"]) == ("shell", "running", "nap")
    assert stop["session_crons"] == []
    hook = decode_hook(json.dumps(stop).encode())
    assert isinstance(hook, Stop) and hook.background_count == 1
    # The task's end: the CLI submits a <task-notification> itself, a turn of its own.
    notified = pane.wait_event(
        "UserPromptSubmit", 30, lambda e: e["prompt"].startswith("<task-notification>")
    )
    assert "source" not in notified and "<status>completed</status>" in notified["prompt"]
    prompt = decode_hook(json.dumps(notified).encode())
    assert isinstance(prompt, UserPromptSubmit)
    assert foreign_origin(prompt) == "a background task Claude started has finished"
    done = turn_end(pane, notified)
    assert done["background_tasks"] == [] and done["last_assistant_message"] == "the nap is over"


def test_no_cross_session_tool_is_offered_offline(pane: ClaudePane, fake: FakeAnthropic) -> None:
    """The CLI wraps another session's message as `<cross-session-message from="...">`
    (its binary says so), but offline it offers no tool to send one (the feature is
    gated): the bridge handles the documented wrapper (worker/turns/origins.py)."""
    submitted = pane.submit("which tools?")
    assert submitted is not None
    turn_end(pane, submitted)
    body = fake.message_requests[0].body or {}
    tools = {str(tool.get("name")) for tool in body.get("tools", [])}
    assert "Bash" in tools and not {"SendMessage", "SendSessionMessage"} & tools
