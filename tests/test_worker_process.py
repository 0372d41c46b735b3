"""A real worker process driving a stand-in Claude in a private tmux, against a test ROUTER."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import TmuxServer
from tests.harness import Router, standin_command, standin_env, wait_until
from vai.protocol.framing import worker_identity
from vai.protocol.layout import Layout, ipc_endpoint
from vai.protocol.messages import (
    Author,
    ChatMessage,
    ClaudeStatus,
    Deliver,
    DeliveryUpdate,
    Shutdown,
    TurnEnded,
    WireMessage,
    WorkerHello,
)
from vai.protocol.specs import WORKER_SPEC_ENV, WorkerSpec, encode_spec

SESSION = 1
USER = Author(id=42, name="alice")


class WorkerRig:
    def __init__(self, home: Path, tmux: TmuxServer) -> None:
        self.layout = Layout(str(home))
        for d in (self.layout.run_dir, self.layout.state_dir, self.layout.logs_dir):
            d.mkdir(parents=True, mode=0o700, exist_ok=True)
        self.tmux = tmux
        self.router = Router(ipc_endpoint(self.layout.bus_socket))
        self.work_dir = home / "work"
        self.work_dir.mkdir()
        self.spec = WorkerSpec(
            session=SESSION,
            channel_id=1000,
            home=str(home),
            tmux_socket=tmux.socket_name,
            claude_command=standin_command(),
            work_dir=str(self.work_dir),
            ready_timeout=10,
            heartbeat_interval=0.5,
        )
        self.env = standin_env(home / "claude-home")
        self.env[WORKER_SPEC_ENV] = encode_spec(self.spec)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.next_id = 1

    def start_worker(self) -> subprocess.Popen[bytes]:
        log = open(self.layout.session_log(SESSION), "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            [sys.executable, "-m", "vai.worker"], env=self.env, stdout=log, stderr=log
        )
        log.close()
        self.processes.append(process)
        return process

    def expect(self, kind: type[WireMessage], timeout: float = 10, **fields: object) -> WireMessage:
        def accept(message: WireMessage) -> bool:
            return isinstance(message, kind) and all(
                getattr(message, k) == v for k, v in fields.items()
            )

        return self.router.expect(accept, timeout, f"{kind.__name__} {fields}")[1]

    def deliver(self, content: str) -> ChatMessage:
        message = ChatMessage(
            message_id=self.next_id, channel_id=1000, author=USER, content=content
        )
        self.next_id += 1
        self.router.send(worker_identity(SESSION), Deliver(message=message))
        return message

    def log_text(self) -> str:
        return self.layout.session_log(SESSION).read_text(errors="replace")

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()
        self.router.close()


@pytest.fixture
def rig(short_tmp: Path, tmux_server: TmuxServer) -> Iterator[WorkerRig]:
    rig = WorkerRig(short_tmp, tmux_server)
    try:
        yield rig
    finally:
        rig.close()


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
