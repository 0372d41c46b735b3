"""worker/effects.py: the tracker's actions are journaled first, in one write, then carried
out in order, one batch after another. No tmux: the pane is never touched."""

from __future__ import annotations

import asyncio
from pathlib import Path

from vai.protocol.links import WorkerToSupervisor
from vai.protocol.messages import (
    Author,
    ChatMessage,
    ClaudeStatus,
    DeliveryUpdate,
    TurnEnded,
)
from vai.protocol.specs import WorkerSpec
from vai.worker.attachments import AttachmentLimits, AttachmentStore
from vai.worker.choices import ChoiceBroker
from vai.worker.claude_pane import ClaudePane
from vai.worker.delivery import TypingPipeline
from vai.worker.effects import Effects
from vai.worker.session_state import SessionState
from vai.worker.turns.tracker import TurnTracker
from vai.worker.turns.vocabulary import (
    Accepted,
    Announce,
    EndTurn,
    MessageDone,
    PressKey,
    SaveJournal,
)
from vai.worker.typist import Typist

MESSAGE = ChatMessage(message_id=7, channel_id=1, author=Author(id=1, name="u"), content="hi")


class Recorder:
    """What left the process, and the journal as each save wrote it."""

    def __init__(self, state: SessionState) -> None:
        self.state = state
        self.log: list[object] = []

    async def send(self, message: WorkerToSupervisor) -> None:
        self.log.append(message)
        await asyncio.sleep(0)  # a send lets other tasks run

    def save(self) -> None:
        self.log.append(("saved", [t.turn_id for t in self.state.unacked_turns]))


class NoTranscript:
    def holds(self, in_flight: object) -> bool:
        return False

    def answer_after(self, offset: int) -> str:
        return ""


def effects(tmp_path: Path) -> tuple[Effects, Recorder, list[str]]:
    state = SessionState(attachments={7: ["/a/file"]})
    out = Recorder(state)
    spec = WorkerSpec(
        session=3, channel_id=1, home=str(tmp_path), tmux_socket="unused",
        claude_command=["claude"], work_dir=str(tmp_path),
    )  # fmt: skip
    pane = ClaudePane(spec)
    keys: list[str] = []

    async def send_key(key: str) -> None:
        keys.append(key)
        await asyncio.sleep(0.01)

    pane.send_key = send_key  # type: ignore[method-assign]
    typist = Typist(pane)
    store = AttachmentStore(tmp_path / "files", tmp_path / "slots", AttachmentLimits())
    tracker = TurnTracker(clock=lambda: 0.0, transcript=NoTranscript())
    typing = TypingPipeline(
        pane=pane, typist=typist, tracker=tracker, tell=lambda event: asyncio.sleep(0),
        idle=lambda: True, attachments=store, state=state, save=out.save,
        transcript=lambda: tmp_path / "t.jsonl",
    )  # fmt: skip
    done = Effects(
        session=3, state=state, save=out.save, send=out.send,
        choices=ChoiceBroker(3, out.send, 5.0), typist=typist, typing=typing,
        attachments=store, watch_closely=lambda: None,
    )  # fmt: skip
    return done, out, keys


def test_a_turn_end_is_journaled_before_anything_is_sent(tmp_path: Path) -> None:
    done, out, _ = effects(tmp_path)

    async def scenario() -> None:
        await done.apply(
            [
                Announce("idle"),
                EndTurn("answer", turn_id="t1", message_ids=(7,)),
                SaveJournal(),
            ]
        )

    asyncio.run(scenario())
    assert out.log[0] == ("saved", ["t1"])  # one write, before the first message
    assert [type(m) for m in out.log[1:]] == [ClaudeStatus, TurnEnded]
    assert done.claude == "idle" and done.state.attachments == {}  # its files are forgotten
    assert done.typing.wakeup.is_set()


def test_batches_are_carried_out_one_after_another(tmp_path: Path) -> None:
    done, out, keys = effects(tmp_path)

    async def scenario() -> None:
        first = asyncio.create_task(
            done.apply([PressKey("Escape"), PressKey("Escape"), Announce("busy")])
        )
        await asyncio.sleep(0)  # the first batch is under way
        await done.apply([Announce("idle"), MessageDone(MESSAGE, "failed", "no text")])
        await first

    asyncio.run(scenario())
    statuses = [m.state for m in out.log if isinstance(m, ClaudeStatus)]
    assert keys == ["Escape", "Escape"] and statuses == ["busy", "idle"]
    assert done.claude == "idle"
    update = out.log[-1]
    assert isinstance(update, DeliveryUpdate) and update.stage == "failed"


def test_an_accepted_prompt_is_told_to_the_channel(tmp_path: Path) -> None:
    done, out, _ = effects(tmp_path)
    asyncio.run(done.apply([Accepted(MESSAGE)]))
    assert out.log == [DeliveryUpdate(session=3, message_id=7, stage="accepted")]
