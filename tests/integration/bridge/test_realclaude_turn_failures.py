"""A failed turn and background work through the whole bridge (vai run, the real discord.py
gateway, local Discord), once with the stand-in and once with the REAL CLI against the fake
API (the backends of test_realclaude_scenarios.py), so the two cannot drift apart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.bridge.test_realclaude_scenarios import (
    BACKENDS,
    CLAUDE,
    Backend,
    RealBackend,
    StandinBackend,
)
from tests.support.fake_anthropic import OVERLOADED, ToolCall
from tests.support.real_claude import real_claude_env, stop_all, write_claude_wrapper
from tests.support.stack import Stack, running_stack
from tests.support.tmux import TmuxServer

pytestmark = pytest.mark.timeout(240)
FAILED = "❌ Claude could not finish this turn: API Error: 529 Overloaded."
FINISHED = "↪ Not from Discord: a background task Claude started has finished.\n"


def failing(backend: Backend) -> str:
    if isinstance(backend, RealBackend):
        backend.fake.on("this fails", OVERLOADED)
        return "this fails"
    return "!fail overloaded"


def background(backend: Backend) -> str:
    """A message whose turn leaves a 3-second background task, answered "Started…"."""
    if isinstance(backend, RealBackend):
        call = ToolCall(
            "Bash", {"command": "sleep 3", "run_in_background": True, "description": "nap"}
        )
        backend.fake.on(
            "nap in background", call, after_tool=lambda _: "Started a background task."
        )
        # The CLI's <task-notification> prompt reaches the model as no user text of its own.
        backend.fake.on(lambda text: not text.strip(), "The background task finished.", times=1)
        return "nap in background"
    return "!background 3"


@pytest.fixture(params=BACKENDS)
def stack_with(
    request: pytest.FixtureRequest, short_tmp: Path, tmux_server: TmuxServer
) -> Iterator[tuple[Stack, int, Backend]]:
    kind = str(request.param)
    backend: Backend = RealBackend(short_tmp) if kind == "real" else StandinBackend(short_tmp)
    if isinstance(backend, RealBackend):  # one retry, not ten with backoff (188 s for a 529)
        env = real_claude_env(backend.claude_home, short_tmp / "claude-tmp", backend.fake.base_url)
        retries = {**env, "CLAUDE_CODE_MAX_RETRIES": "1"}
        backend.wrapper = write_claude_wrapper(short_tmp / "claude-retry-once", retries, CLAUDE)
    env = backend.seed("bypassPermissions", dialogs=False)
    try:
        with running_stack(
            short_tmp, tmux_server, channels=1, claude_command=backend.command(), extra_env=env
        ) as (stack, (channel,)):
            stack.start()
            try:
                stack.wait_all_running(timeout=90)
                yield stack, channel, backend
            finally:
                print(stack.output())
    finally:
        if kind == "real":
            stop_all(tmux_server, short_tmp)
        backend.close()


def claude_state(stack: Stack) -> str:
    status = stack.vai("status").stdout
    return next((line for line in status.splitlines() if line.startswith("1 ")), "")


def test_a_failed_turn_is_posted_and_the_next_message_goes_in(
    stack_with: tuple[Stack, int, Backend],
) -> None:
    stack, channel, backend = stack_with
    asked = stack.discord.post_user_message(channel, failing(backend))

    def failure() -> dict[str, Any] | None:
        posts = stack.bot_messages(channel)
        return next((m for m in posts if m["content"].startswith(FAILED)), None)

    post = stack.discord.wait_for(failure, 90, "the failure post")
    assert post is not None and post["message_reference"]["message_id"] == asked["id"]
    stack.discord.wait_for(
        lambda: (
            "❌" in (marks := stack.discord.reactions(channel, int(asked["id"])))
            and "✅" not in marks
        ),
        15,
        "❌ in place of ✅",
    )
    stack.discord.post_user_message(channel, "after the failure")
    stack.wait_bot_message(channel, "echo: after the failure", timeout=60)


def test_background_work_is_shown_then_its_end_is_posted(
    stack_with: tuple[Stack, int, Backend],
) -> None:
    stack, channel, backend = stack_with
    stack.discord.post_user_message(channel, background(backend))
    stack.wait_bot_message(channel, "Started a background task.", timeout=60)
    stack.discord.wait_for(
        lambda: "working in background" in claude_state(stack), 15, "background in vai status"
    )
    stack.wait_bot_message(channel, FINISHED + "The background task finished.", timeout=60)
    stack.discord.wait_for(lambda: " idle " in claude_state(stack), 15, "idle again")
