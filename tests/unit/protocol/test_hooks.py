"""protocol/hooks.py: Claude's hook payloads as one tagged union; unknown events kept."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from vai.protocol.hooks import (
    HOOK_EVENTS,
    Notification,
    OtherHook,
    PermissionRequest,
    PostToolUse,
    PreToolUse,
    SessionEnd,
    SessionStart,
    Stop,
    StopFailure,
    UserPromptSubmit,
    decode_hook,
)

TRANSCRIPT = "/h/.claude/projects/-w/c0ffee.jsonl"
COMMON = {
    "session_id": "c0ffee",
    "transcript_path": TRANSCRIPT,
    "cwd": "/w",
    "permission_mode": "acceptEdits",
    "something_new": {"a later CLI": "adds fields"},
}


def payload(event: str, **fields: Any) -> bytes:
    return json.dumps({**COMMON, "hook_event_name": event, **fields}).encode()


def test_each_event_decodes_to_its_struct() -> None:
    start = decode_hook(payload("SessionStart", source="clear", model="claude-x"))
    assert start == SessionStart(
        session_id="c0ffee", transcript_path=TRANSCRIPT, cwd="/w", source="clear",
        model="claude-x",
    )  # fmt: skip
    assert start.event == "SessionStart"
    prompt = decode_hook(payload("UserPromptSubmit", prompt="hi", prompt_id="p1"))
    assert isinstance(prompt, UserPromptSubmit) and (prompt.prompt, prompt.prompt_id) == (
        "hi",
        "p1",
    )
    tool = {"command": "ls"}
    pre = decode_hook(payload("PreToolUse", tool_name="Bash", tool_input=tool, tool_use_id="t1"))
    assert isinstance(pre, PreToolUse) and pre.tool_input == tool and pre.tool_use_id == "t1"
    post = decode_hook(
        payload("PostToolUse", tool_name="Bash", tool_response={"stdout": "x"}, duration_ms=12)
    )
    assert isinstance(post, PostToolUse) and post.tool_response == {"stdout": "x"}
    asked = decode_hook(payload("PermissionRequest", tool_name="Write", permission_suggestions=[]))
    assert isinstance(asked, PermissionRequest) and asked.tool_name == "Write"
    note = decode_hook(payload("Notification", message="m", notification_type="idle_prompt"))
    assert isinstance(note, Notification) and note.notification_type == "idle_prompt"
    stop = decode_hook(payload("Stop", last_assistant_message=None, stop_hook_active=False))
    assert stop == Stop(session_id="c0ffee", transcript_path=TRANSCRIPT, cwd="/w")
    end = decode_hook(payload("SessionEnd", reason="prompt_input_exit"))
    assert isinstance(end, SessionEnd) and end.reason == "prompt_input_exit"


def test_every_known_event_is_reported_to_the_worker() -> None:
    assert set(HOOK_EVENTS) == {
        "SessionStart", "UserPromptSubmit", "PreToolUse", "PermissionRequest", "PostToolUse",
        "Notification", "Stop", "StopFailure", "SessionEnd",
    }  # fmt: skip


def test_an_event_this_release_does_not_know_is_kept_as_other() -> None:
    hook = decode_hook(payload("TaskCompleted", task_id="t1", prompt_id="p9"))
    assert hook == OtherHook(
        hook_event_name="TaskCompleted", session_id="c0ffee",
        transcript_path=TRANSCRIPT, cwd="/w", prompt_id="p9",
    )  # fmt: skip
    assert hook.event == "TaskCompleted"
    assert isinstance(decode_hook(b'{"hook_event_name": "SubagentStop"}'), OtherHook)


def test_a_turn_ended_by_an_api_error_as_the_cli_reports_it() -> None:
    details = '529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    hook = decode_hook(
        payload(
            "StopFailure", prompt_id="p9", error="overloaded", error_details=details,
            last_assistant_message="API Error: Repeated 529 Overloaded errors",
            effort={"level": "medium"},
        )
    )  # fmt: skip
    assert isinstance(hook, StopFailure)
    assert (hook.error, hook.error_details, hook.prompt_id) == ("overloaded", details, "p9")
    assert hook.last_assistant_message == "API Error: Repeated 529 Overloaded errors"


def test_background_tasks_at_stop_are_counted_leniently() -> None:
    def running(**fields: Any) -> int:
        stop = decode_hook(payload("Stop", **fields))
        assert isinstance(stop, Stop)
        return stop.background_count

    task = {"id": "b1", "type": "shell", "status": "running", "description": "sleep"}
    assert running(background_tasks=[task]) == 1
    assert running(background_tasks=[]) == 0
    assert running() == 0  # a CLI that does not say
    assert running(background_tasks={"b1": "running"}) == 0  # never lost over its shape


def test_a_prompt_says_who_wrote_it_when_the_cli_does() -> None:
    hook = decode_hook(payload("UserPromptSubmit", prompt="hi", source="system"))
    assert isinstance(hook, UserPromptSubmit) and hook.source == "system"
    plain = decode_hook(payload("UserPromptSubmit", prompt="hi"))
    assert isinstance(plain, UserPromptSubmit) and plain.source == ""


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        b'{"session_id": "no event name"}',
        b'{"hook_event_name": 7}',
        b'{"hook_event_name": "Stop", "last_assistant_message": 3}',  # a known event, misshapen
        b'{"hook_event_name": "StopFailure", "session_id": 5}',
    ],
)
def test_what_is_no_hook_event_is_refused(raw: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_hook(raw)
