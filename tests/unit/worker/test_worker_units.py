"""Pure parts of the worker: prompt preparation, tool hook payloads, the choice broker, the
transcript and the command line that starts Claude."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from vai.protocol.messages import ChoiceAnswer, ChoiceRequest, WireMessage
from vai.protocol.specs import WorkerSpec
from vai.worker import prompt_input, session_lock
from vai.worker.choices import ChoiceBroker
from vai.worker.claude_pane import ClaudePane
from vai.worker.session_state import SessionState
from vai.worker.tool_hooks import (
    answers_output,
    deny_tool_output,
    parse_questions,
    permission_output,
    permission_text,
    tool_summary,
)
from vai.worker.transcript import answer_after, has_conversation

# -- prompt_input -------------------------------------------------------------------------------


def test_prepare_neutralises_keys_and_shell_mode() -> None:
    assert prompt_input.prepare("a\x1b[201~b\x03c\x00d\r\ne\tf") == "a[201~bcd\ne    f"
    assert prompt_input.prepare("!rm -rf /") == " !rm -rf /"
    assert prompt_input.prepare("/clear") == "/clear"
    assert prompt_input.prepare("  !indented") == "  !indented"


def test_slash_commands() -> None:
    assert prompt_input.is_slash_command("/clear")
    assert prompt_input.is_slash_command("/compact keep the API notes")
    assert not prompt_input.is_slash_command("/tmp/x is a path")
    assert not prompt_input.is_slash_command("/")
    assert not prompt_input.is_slash_command("hello /clear")


def test_pieces_stay_under_the_paste_limits() -> None:
    text = "".join(f"line {i}\n" for i in range(50)) + "x" * 2000
    pieces = prompt_input.pieces(text)
    assert "".join(pieces) == text
    assert all(len(p) <= 700 and p.count("\n") <= 2 for p in pieces)
    assert prompt_input.pieces("short") == ["short"]
    assert prompt_input.pieces("") == []


def test_box_comparison_ignores_wrapping() -> None:
    assert prompt_input.box_shows("abc def\n  ghi", "abc defghi", scrolled=False)
    assert prompt_input.box_shows("end of it", "the start\nand the end of it", scrolled=True)
    assert not prompt_input.box_shows("end of it", "the start\nand the end of it", scrolled=False)
    assert not prompt_input.box_shows("", "x", scrolled=False)


# -- tool hooks ---------------------------------------------------------------------------------


def test_tool_summaries() -> None:
    assert tool_summary("Bash", {"command": "ls  -la\n/tmp"}) == "ls -la /tmp"
    assert tool_summary("Read", {"file_path": "/w/a.py"}) == "/w/a.py"
    assert tool_summary("Grep", {"pattern": "TODO", "path": "src"}) == "TODO in src"
    assert len(tool_summary("Bash", {"command": "x" * 500})) == 160
    assert tool_summary("Mystery", None) == ""


def test_permission_text_and_output() -> None:
    text = permission_text("Bash", {"command": "echo ```hi```", "description": "Say hi"})
    assert "```\necho `\u200b``hi`\u200b``\n```" in text and "Say hi" in text
    assert (
        permission_text("Write", {"file_path": "/w/x"}) == "Claude wants to use **Write**: `/w/x`"
    )
    allow = json.loads(permission_output(True))
    assert allow["hookSpecificOutput"] == {
        "hookEventName": "PermissionRequest",
        "decision": {"behavior": "allow"},
    }
    deny = json.loads(permission_output(False, "no"))["hookSpecificOutput"]["decision"]
    assert deny == {"behavior": "deny", "message": "no"}


def test_questions_and_their_answers() -> None:
    tool_input = {
        "questions": [
            {
                "question": "Which?",
                "header": "Pick",
                "options": [{"label": "A"}, {"label": "B"}],
                "multiSelect": True,
            },
            "junk",
        ]
    }
    (question,) = parse_questions(tool_input)
    assert question.options == ("A", "B") and question.multi_select
    out = json.loads(answers_output(tool_input, {"Which?": "B"}))["hookSpecificOutput"]
    assert out["permissionDecision"] == "allow"
    assert out["updatedInput"]["answers"] == {"Which?": "B"}
    refused = json.loads(deny_tool_output("nobody answered"))["hookSpecificOutput"]
    assert refused["permissionDecision"] == "deny"


# -- the choice broker -------------------------------------------------------------------------


def test_the_broker_asks_and_resolves() -> None:
    sent: list[WireMessage] = []

    async def send(message: WireMessage) -> None:
        sent.append(message)

    async def scenario() -> None:
        broker = ChoiceBroker(3, send, timeout=5)
        pending = await broker.open("permission", "may I?", ["Allow", "Deny"], "hook")
        request = sent[0]
        assert isinstance(request, ChoiceRequest) and request.session == 3
        assert broker.open_requests() == [request]
        assert not broker.answer(ChoiceAnswer(request_id="other", session=3, option="Allow"))
        assert not broker.answer(
            ChoiceAnswer(request_id=request.request_id, session=3, option="Maybe")
        )
        broker.answer(ChoiceAnswer(request_id=request.request_id, session=3, option="Allow"))
        answer = await broker.wait(pending)
        assert answer is not None and answer.option == "Allow"
        assert broker.open_requests() == []

        # An expired choice (the gateway's empty answer, or the worker's own timeout).
        pending = await broker.open("question", "?", ["A"], "hook")
        broker.answer(ChoiceAnswer(request_id=pending.request_id, session=3, option=""))
        assert await broker.wait(pending) is None
        quick = ChoiceBroker(3, send, timeout=0.01)
        assert quick.timeout == 1.0  # never shorter than a second
        assert ChoiceBroker(3, send, timeout=9999).timeout == 540.0

        # A dead worker's open choice is adopted when the same dialog shows again.
        broker.orphans = [request]
        assert broker.adopt("permission", ["Allow", "Deny"]) == request.request_id
        assert broker.adopt("permission", ["Allow", "Deny"]) == ""

        pending = await broker.open("question", "?", ["A"], "pane")
        assert broker.cancel(("question",)) == 1
        assert await broker.wait(pending) is None

    asyncio.run(scenario())


# -- the transcript and the command line --------------------------------------------------------


def test_transcript_reading(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"type":"mode"}\n{"type":"permission-mode"}\n')
    assert not has_conversation(path)
    offset = path.stat().st_size
    with path.open("a") as handle:
        handle.write(json.dumps({"type": "user", "message": {"content": "hi"}}) + "\n")
        block = {"type": "text", "text": "partial answer"}
        handle.write(json.dumps({"type": "assistant", "message": {"content": [block]}}) + "\n")
    assert has_conversation(path)
    assert answer_after(path, offset) == "partial answer"
    assert answer_after(path, path.stat().st_size) == ""
    assert not has_conversation(tmp_path / "missing.jsonl")


def test_a_conversation_never_saved_is_not_resumed(tmp_path: Path) -> None:
    spec = WorkerSpec(
        session=1,
        channel_id=1,
        home=str(tmp_path / "vai"),
        tmux_socket="unused",
        claude_command=["claude"],
        work_dir=str(tmp_path / "work"),
    )
    pane = ClaudePane(spec)
    transcript = tmp_path / "conv.jsonl"
    state = SessionState(conversation_id="c-1", transcript_path=str(transcript))
    assert "--session-id c-1" in pane.claude_command_line(state)
    transcript.write_text('{"type":"user","message":{"content":"hi"}}\n')
    assert "--resume c-1" in pane.claude_command_line(state)
    transcript.write_text('{"type":"mode"}\n')  # killed before it saved the turn
    line = pane.claude_command_line(state)
    assert state.conversation_id != "c-1" and f"--session-id {state.conversation_id}" in line


@pytest.mark.parametrize("report_cost", [False, True])
def test_the_status_line_is_installed_only_when_cost_is_asked_for(
    tmp_path: Path, report_cost: bool
) -> None:
    spec = WorkerSpec(
        session=1,
        channel_id=1,
        home=str(tmp_path / "vai"),
        tmux_socket="unused",
        claude_command=["claude"],
        work_dir=str(tmp_path / "work"),
        status_line=report_cost,
    )
    spec.layout.session_run_dir(1).mkdir(parents=True)
    settings = json.loads(ClaudePane(spec).write_settings().read_text())
    assert "Stop" in settings["hooks"]
    assert ("statusLine" in settings) is report_cost
    if report_cost:
        assert settings["statusLine"]["command"].endswith(" status")


# -- one worker per session ----------------------------------------------------------------


def test_a_new_worker_ends_a_leftover_one(tmp_path: Path) -> None:
    lock = tmp_path / "worker-1.lock"
    holder = (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.pwrite(fd, str(os.getpid()).encode(), 0)\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    # Looks like a worker (`... -m vai.worker`) to the lock's owner check.
    leftover = subprocess.Popen(
        [sys.executable, "-c", holder, "-m", "vai.worker"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert leftover.stdout is not None and leftover.stdout.readline() == "held\n"
        fd = session_lock.take(lock, 1, timeout=10)
        assert leftover.wait(timeout=10) == -signal.SIGKILL
        assert lock.read_text() == str(os.getpid())
        os.close(fd)
    finally:
        leftover.kill()
        leftover.wait()
