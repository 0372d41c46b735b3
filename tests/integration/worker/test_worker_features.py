"""A real worker driving the stand-in Claude: permissions, questions, dialogs, interrupt,
progress, exact input and attachments, against a test ROUTER standing in for the supervisor.
"""

from __future__ import annotations

import json
import os
import signal
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests.support.harness import FileServer, file_server
from tests.support.tmux import TmuxServer
from tests.support.worker_rig import SESSION, USER, WorkerRig
from vai.protocol.framing import worker_identity
from vai.protocol.messages import (
    AttachmentRef,
    ChatMessage,
    ChoiceAnswer,
    ChoiceRequest,
    ClaudeStatus,
    DeliveryUpdate,
    Interrupt,
    ToolProgress,
    TurnEnded,
    WireMessage,
    WorkerHello,
)
from vai.protocol.specs import WORKER_SPEC_ENV, encode_spec

ALLOW_OUTPUT = "hi-from-bash"


class Rig(WorkerRig):
    def __init__(self, home: Path, tmux: TmuxServer) -> None:
        super().__init__(home, tmux)
        self.taken: set[int] = set()
        # This test ROUTER sends no heartbeats: give the worker a long liveness window.
        self.configure(heartbeat_interval=5.0)

    def expect(self, kind: type[WireMessage], timeout: float = 10, **fields: object) -> WireMessage:
        """Like WorkerRig.expect, but a matching message that already arrived counts too."""
        return self.first(
            lambda m: isinstance(m, kind) and all(getattr(m, k) == v for k, v in fields.items()),
            timeout,
            f"{kind.__name__} {fields}",
        )

    def first(self, accept: Any, timeout: float, what: str) -> WireMessage:
        for _, message in self.router.received:
            if id(message) not in self.taken and accept(message):
                self.taken.add(id(message))
                return message
        message = self.router.expect(accept, timeout, what)[1]
        self.taken.add(id(message))
        return message

    def configure(self, **spec: Any) -> None:
        self.spec = msgspec.structs.replace(self.spec, **spec)
        self.env[WORKER_SPEC_ENV] = encode_spec(self.spec)

    def send(self, message: WireMessage) -> None:
        self.router.send(worker_identity(SESSION), message)

    def message(self, content: str, attachments: tuple[AttachmentRef, ...] = ()) -> ChatMessage:
        message = ChatMessage(
            message_id=self.next_id,
            channel_id=1000,
            author=USER,
            content=content,
            attachments=attachments,
        )
        self.next_id += 1
        return message

    def deliver_message(self, message: ChatMessage) -> ChatMessage:
        from vai.protocol.messages import Deliver

        self.send(Deliver(message=message))
        return message

    def choice(self, kind: str, timeout: float = 10) -> ChoiceRequest:
        request = self.first(
            lambda m: isinstance(m, ChoiceRequest) and m.kind == kind, timeout, f"a {kind}"
        )
        assert isinstance(request, ChoiceRequest)
        return request

    def answer(self, request: ChoiceRequest, option: str) -> None:
        self.send(
            ChoiceAnswer(
                request_id=request.request_id,
                session=SESSION,
                option=option,
                user_id=7,
                user_name="alice",
            )
        )

    def turn(self, message: ChatMessage, timeout: float = 10) -> TurnEnded:
        turn = self.expect(TurnEnded, timeout, message_ids=[message.message_id])
        assert isinstance(turn, TurnEnded)
        return turn


@pytest.fixture
def rig(short_tmp: Path, tmux_server: TmuxServer) -> Iterator[Rig]:
    rig = Rig(short_tmp, tmux_server)
    try:
        yield rig
    finally:
        rig.close()


def started(rig: Rig, **env: str) -> Rig:
    rig.env.update(env)
    rig.start_worker()
    rig.expect(WorkerHello, ready=True)
    return rig


# -- input ------------------------------------------------------------------------------------


def test_a_bang_message_reaches_claude_as_text_not_as_a_shell_command(rig: Rig) -> None:
    started(rig)
    message = rig.deliver("!echo this must not run")
    assert rig.turn(message).text == "echo: !echo this must not run"


def test_a_long_multiline_message_arrives_exactly(rig: Rig) -> None:
    started(rig)
    text = "Please review:\n```python\n" + "".join(
        f"def f{i}(x):\n    return x * {i}  # $HOME `tick` 'q' \"d\"\n" for i in range(60)
    )
    text += "```\nThanks!"
    assert len(text) > 3000
    message = rig.deliver(text)
    assert rig.turn(message).text == "echo: " + text


def test_slash_commands_pass_through(rig: Rig) -> None:
    started(rig)
    message = rig.deliver("/clear")
    done = rig.expect(DeliveryUpdate, message_id=message.message_id, stage="done")
    assert isinstance(done, DeliveryUpdate) and done.detail == "Claude Code ran `/clear`."
    unknown = rig.deliver("/frobnicate now")
    failed = rig.expect(DeliveryUpdate, message_id=unknown.message_id, stage="failed")
    assert isinstance(failed, DeliveryUpdate)
    assert failed.detail == "Claude Code says: Unknown slash command: frobnicate"
    after = rig.deliver("still here")
    assert rig.turn(after).text == "echo: still here"


# -- permissions and questions -------------------------------------------------------------


def test_permission_is_asked_in_the_channel_and_allowed(rig: Rig) -> None:
    started(rig)
    message = rig.deliver(f"!bash echo {ALLOW_OUTPUT}")
    request = rig.choice("permission")
    assert request.options == ["Allow", "Deny"]
    assert f"echo {ALLOW_OUTPUT}" in request.text and request.timeout_s == 300
    rig.expect(ClaudeStatus, state="permission")
    progress = rig.expect(ToolProgress, done=False)
    assert isinstance(progress, ToolProgress)
    assert progress.tool_name == "Bash" and progress.summary == f"echo {ALLOW_OUTPUT}"
    rig.answer(request, "Allow")
    assert rig.turn(message).text == ALLOW_OUTPUT
    rig.expect(ToolProgress, done=True, tool_name="Bash")


def test_permission_denied_from_the_channel(rig: Rig) -> None:
    started(rig)
    message = rig.deliver("!bash echo never")
    rig.answer(rig.choice("permission"), "Deny")
    assert rig.turn(message).text == "alice denied this from Discord."


def test_an_unanswered_permission_is_denied_after_the_timeout(rig: Rig) -> None:
    rig.configure(choice_timeout=1.0)
    started(rig)
    message = rig.deliver("!bash echo never")
    assert rig.choice("permission").timeout_s == 1.0
    assert "denied" in rig.turn(message).text


def test_a_question_is_answered_from_the_channel(rig: Rig) -> None:
    started(rig)
    message = rig.deliver("!ask Which flavour? | Vanilla | Chocolate")
    request = rig.choice("question")
    assert request.options == ["Vanilla", "Chocolate"]
    assert "Which flavour?" in request.text
    rig.expect(ClaudeStatus, state="question")
    rig.answer(request, "Chocolate")
    assert '"Which flavour?"="Chocolate"' in rig.turn(message).text


def test_a_new_worker_adopts_the_open_permission_and_answers_in_the_pane(rig: Rig) -> None:
    first = started(rig).processes[0]
    message = rig.deliver(f"!bash echo {ALLOW_OUTPUT}")
    request = rig.choice("permission")
    os.kill(first.pid, signal.SIGKILL)
    first.wait()
    # The hook lost its worker: the stand-in keeps showing its dialog, as the real CLI.
    rig.start_worker()
    rig.expect(WorkerHello, ready=True)
    again = rig.choice("permission")
    assert again.request_id == request.request_id  # the button in the channel still works
    rig.answer(again, "Allow")
    assert rig.turn(message, timeout=15).text == ALLOW_OUTPUT


# -- start-up dialogs --------------------------------------------------------------------------


def test_the_trust_dialog_is_asked_in_the_channel(rig: Rig) -> None:
    started(rig, STANDIN_CLAUDE_TRUST_DIALOG="1")
    rig.expect(ClaudeStatus, state="dialog")
    request = rig.choice("question")
    assert request.options == ["No, exit", "Yes, I trust this folder"]
    assert "trust" in request.text
    message = rig.deliver("after trusting")
    rig.answer(request, "Yes, I trust this folder")
    assert rig.turn(message, timeout=15).text == "echo: after trusting"


def test_configured_start_up_dialogs_are_answered_by_the_worker(rig: Rig) -> None:
    rig.configure(trust_work_dir=True, approve_api_key=True)
    started(rig, STANDIN_CLAUDE_TRUST_DIALOG="1", STANDIN_CLAUDE_API_KEY_DIALOG="1")
    message = rig.deliver("no questions asked")
    assert rig.turn(message, timeout=15).text == "echo: no questions asked"
    assert not [m for _, m in rig.router.received if isinstance(m, ChoiceRequest)]


# -- interrupt ----------------------------------------------------------------------------------


def test_interrupt_ends_the_turn_and_the_next_message_goes_on(rig: Rig) -> None:
    started(rig)
    slow = rig.deliver("!sleep 30")
    rig.expect(DeliveryUpdate, message_id=slow.message_id, stage="accepted")
    rig.send(Interrupt())
    turn = rig.turn(slow)
    assert turn.interrupted and "Interrupted" in turn.text
    after = rig.deliver("next")
    assert rig.turn(after).text == "echo: next"
    assert "!sleep 30" not in rig.tmux.capture("=claude-session-1:").split("────")[-2]


def test_interrupt_while_a_permission_is_asked(rig: Rig) -> None:
    started(rig)
    message = rig.deliver("!bash echo never")
    rig.choice("permission")
    rig.send(Interrupt())
    turn = rig.turn(message)
    assert turn.interrupted
    after = rig.deliver("next")
    assert rig.turn(after).text == "echo: next"


# -- attachments --------------------------------------------------------------------------------


@pytest.fixture
def files() -> Iterator[tuple[FileServer, str]]:
    with file_server() as served:
        yield served


def ref(base: str, name: str, path: str, size: int) -> AttachmentRef:
    return AttachmentRef(filename=name, url=f"{base}{path}", size=size)


def test_attachments_are_saved_and_listed_in_the_prompt(
    rig: Rig, files: tuple[FileServer, str]
) -> None:
    server, base = files
    server.files = {"/a": b"alpha", "/b": b"bravo"}
    started(rig)
    folder = rig.layout.session_attachments(SESSION)
    message = rig.deliver_message(
        rig.message(
            "look at these",
            (ref(base, "../../etc/passwd", "/a", 5), ref(base, "CON.txt", "/b", 5)),
        )
    )
    text = rig.turn(message).text
    saved = [Path(line) for line in text.splitlines() if line.startswith("/")]
    assert [p.name for p in saved] == ["passwd", "_CON.txt"]
    assert all(p.parent == folder.absolute() for p in saved)
    assert [p.read_bytes() for p in saved] == [b"alpha", b"bravo"]
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in saved)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert text.startswith("echo: look at these\n\nAttached files:\n")
    again = rig.deliver_message(rig.message("same name", (ref(base, "passwd", "/a", 5),)))
    assert rig.turn(again).text.endswith(str(folder.absolute() / "passwd (1)"))


def test_a_file_that_cannot_be_saved_fails_the_message(
    rig: Rig, files: tuple[FileServer, str]
) -> None:
    server, base = files
    server.files = {"/big": b"x" * 3000}
    rig.configure(attachments_max_file_mb=0.001)
    started(rig)
    big = rig.deliver_message(rig.message("too big", (ref(base, "big.bin", "/big", 100),)))
    update = rig.expect(DeliveryUpdate, message_id=big.message_id, stage="failed")
    assert isinstance(update, DeliveryUpdate) and "big.bin" in update.detail
    assert "limit" in update.detail
    gone = rig.deliver_message(rig.message("gone", (ref(base, "x.txt", "/missing", 1),)))
    update = rig.expect(DeliveryUpdate, message_id=gone.message_id, stage="failed")
    assert isinstance(update, DeliveryUpdate) and "x.txt: download failed" in update.detail
    after = rig.deliver("and on it goes")
    assert rig.turn(after).text == "echo: and on it goes"
    assert not [p for p in rig.layout.session_attachments(SESSION).iterdir()]


def test_old_layout_files_move_into_session_1(rig: Rig) -> None:
    flat = rig.layout.attachments_dir
    flat.mkdir(parents=True, exist_ok=True)
    (flat / "IMG_0001.png").write_bytes(b"png")
    started(rig)
    moved = rig.layout.session_attachments(SESSION) / "IMG_0001.png"
    assert moved.read_bytes() == b"png" and not (flat / "IMG_0001.png").exists()
    assert "migrated attachment" in rig.log_text()


def test_the_journal_keeps_saved_files_of_unfinished_messages(rig: Rig) -> None:
    started(rig)
    state = json.loads(rig.layout.session_state(SESSION).read_text())
    assert state.get("attachments", {}) == {}
