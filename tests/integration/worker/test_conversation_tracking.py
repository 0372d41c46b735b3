"""The worker follows Claude's conversation id (SessionStart), /clear included, so a
Claude that dies resumes the conversation it was really in."""

from __future__ import annotations

import json
import os
import signal

from tests.support.harness import wait_until
from tests.support.worker_rig import WorkerRig
from vai.protocol.messages import ClaudeStatus, DeliveryUpdate, TurnEnded, WorkerHello


def conversation(rig: WorkerRig) -> str:
    state = json.loads(rig.layout.session_state(1).read_text())
    return str(state["conversation_id"])


def test_clear_then_claude_death_resumes_the_new_conversation(rig: WorkerRig) -> None:
    rig.start_worker()
    rig.expect(WorkerHello, ready=True)
    first = rig.deliver("before clear")
    rig.expect(TurnEnded, message_ids=[first.message_id])
    before = conversation(rig)

    cleared = rig.deliver("/clear")
    rig.expect(DeliveryUpdate, message_id=cleared.message_id, stage="done")
    after = wait_until(lambda: conversation(rig) != before and conversation(rig), 10, "a new id")

    second = rig.deliver("in the new conversation")
    rig.expect(TurnEnded, message_ids=[second.message_id])
    pane = rig.tmux.run("display-message", "-p", "-t", "=claude-session-1:", "#{pane_pid}")
    os.kill(int(pane), signal.SIGKILL)
    rig.expect(ClaudeStatus, state="dead")
    rig.expect(ClaudeStatus, state="idle", timeout=15)
    command = rig.tmux.run(
        "display-message", "-p", "-t", "=claude-session-1:", "#{pane_start_command}"
    )
    assert f"--resume {after}" in command
    assert conversation(rig) == after
    third = rig.deliver("still the new one")
    turn = rig.expect(TurnEnded, message_ids=[third.message_id])
    assert isinstance(turn, TurnEnded) and turn.text == "echo: still the new one"
