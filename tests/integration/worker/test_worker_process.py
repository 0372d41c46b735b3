"""A real worker process driving a stand-in Claude in a private tmux, against a test ROUTER."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from tests.support.harness import wait_until
from tests.support.worker_rig import SESSION, WorkerRig
from vai.protocol.framing import worker_identity
from vai.protocol.messages import (
    ClaudeStatus,
    DeliveryUpdate,
    Shutdown,
    TurnEnded,
    WorkerHello,
)


def test_messages_become_prompts_and_answers_come_back(rig: WorkerRig) -> None:
    rig.start_worker()
    rig.expect(WorkerHello, ready=True)
    assert rig.tmux.has_session("claude-session-1")
    attachments = rig.layout.session_attachments(SESSION)
    assert attachments.is_dir() and (attachments.stat().st_mode & 0o777) == 0o700

    first = rig.deliver("hello there")
    second = rig.deliver("line one\nline two\n```py\nprint('x')\n```")
    rig.expect(DeliveryUpdate, message_id=first.message_id, stage="accepted")
    turn = rig.expect(TurnEnded, message_ids=[first.message_id])
    assert isinstance(turn, TurnEnded) and turn.text == "echo: hello there"
    rig.expect(DeliveryUpdate, message_id=second.message_id, stage="accepted")
    turn = rig.expect(TurnEnded, message_ids=[second.message_id])
    assert isinstance(turn, TurnEnded)
    assert turn.text == "echo: line one\nline two\n```py\nprint('x')\n```"


def test_control_characters_never_act_as_keys(rig: WorkerRig) -> None:
    rig.start_worker()
    rig.expect(WorkerHello, ready=True)
    hostile = rig.deliver("a\x1b[201~b\x03c\x1bd\x00e\x04f\x1ag\r\nh")
    turn = rig.expect(TurnEnded, message_ids=[hostile.message_id])
    assert isinstance(turn, TurnEnded)
    assert turn.text == "echo: a[201~bcdefg\nh"


def test_a_message_right_after_a_turn_is_one_turn_with_no_wait(rig: WorkerRig) -> None:
    """Claude runs its Stop hooks before it redraws idle; a busy frame read in between once
    made the worker think a new turn was under way and hold the next message ~3 s."""
    rig.env["STANDIN_CLAUDE_STOP_HOOKS_MS"] = "700"  # a read of the screen falls in there
    standin_log = rig.layout.root / "standin.log"
    rig.env["STANDIN_CLAUDE_LOG"] = str(standin_log)
    rig.start_worker()
    rig.expect(WorkerHello, ready=True)

    def turns_ended() -> int:
        return standin_log.read_text().count('"turn_end"')

    for i in range(4):
        message = rig.deliver(f"message {i}")
        rig.expect(TurnEnded, message_ids=[message.message_id])
        # The next message comes once Claude has redrawn idle.
        wait_until(lambda: turns_ended() > i, 10, "Claude idle")  # noqa: B023 - used at once
    log = rig.log_text()
    assert log.count("claude idle -> busy") == 4  # one turn each, none seen in old frames
    assert "without a Stop hook" not in log


def test_worker_death_leaves_claude_and_the_next_worker_adopts_it(rig: WorkerRig) -> None:
    first = rig.start_worker()
    rig.expect(WorkerHello, ready=True)
    pane_pid = rig.tmux.run("display-message", "-p", "-t", "=claude-session-1:", "#{pane_pid}")
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    assert rig.tmux.has_session("claude-session-1")
    rig.start_worker()
    rig.expect(WorkerHello, ready=True)
    assert "adopted tmux session" in rig.log_text()
    again = rig.tmux.run("display-message", "-p", "-t", "=claude-session-1:", "#{pane_pid}")
    assert again == pane_pid
    message = rig.deliver("still there?")
    rig.expect(TurnEnded, message_ids=[message.message_id])


def test_claude_death_restarts_it_resuming_the_conversation(rig: WorkerRig) -> None:
    rig.start_worker()
    rig.expect(WorkerHello, ready=True)
    conversation = json.loads(rig.layout.session_state(SESSION).read_text())["conversation_id"]
    crash = rig.deliver("!crash")
    rig.expect(ClaudeStatus, state="dead")
    rig.expect(ClaudeStatus, state="idle", timeout=15)
    state = json.loads(rig.layout.session_state(SESSION).read_text())
    assert state["conversation_id"] == conversation
    # Claude's transcript holds the prompt it died on: delivered once, never typed again.
    turn = rig.expect(TurnEnded, message_ids=[crash.message_id])
    assert isinstance(turn, TurnEnded) and turn.interrupted
    after = rig.deliver("are you back?")
    turn = rig.expect(TurnEnded, message_ids=[after.message_id])
    assert isinstance(turn, TurnEnded) and turn.text == "echo: are you back?"
    transcript = Path(state["transcript_path"]).read_text()
    # Typed as " !crash": a leading "!" would switch the real CLI into shell mode.
    assert transcript.count('!crash"') == 1


def test_shutdown_with_stop_claude_ends_the_pane(rig: WorkerRig) -> None:
    worker = rig.start_worker()
    rig.expect(WorkerHello, ready=True)
    rig.router.send(worker_identity(SESSION), Shutdown(stop_claude=True))
    assert worker.wait(timeout=10) == 0
    wait_until(lambda: not rig.tmux.has_session("claude-session-1"), 5, "the pane to end")
