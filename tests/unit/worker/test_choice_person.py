"""Whom a choice waits for: the worker names the author of the message whose turn asks."""

from __future__ import annotations

import asyncio

from tests.unit.worker.test_turns import FakeTranscript
from vai.protocol.links import WorkerToSupervisor
from vai.protocol.messages import Author, ChatMessage, ChoiceAnswer, ChoiceRequest, ChoiceWithdrawn
from vai.worker.choices import ChoiceBroker, person_waited_for, waited_for_in
from vai.worker.prompt_queue import PromptQueue
from vai.worker.session_state import InFlight
from vai.worker.turns.tracker import TurnTracker


def message(message_id: int, author: Author) -> ChatMessage:
    return ChatMessage(message_id=message_id, channel_id=5, author=author, content="hi")


ANN, BOB = Author(id=11, name="ann"), Author(id=12, name="bob")


def test_the_turns_author_or_for_a_start_up_dialog_the_next_message() -> None:
    asking = InFlight(message=message(1, ANN), text="hi", transcript_offset=0)
    waiting = message(2, BOB)
    for source in ("hook", "pane", "startup"):
        assert person_waited_for(source, asking, waiting) == ANN.id
    assert person_waited_for("startup", None, waiting) == BOB.id
    # A prompt in a turn no Discord message started names nobody in particular.
    assert person_waited_for("hook", None, waiting) == 0
    assert person_waited_for("pane", None, waiting) == 0
    assert person_waited_for("startup", None, None) == 0
    bot = InFlight(
        message=message(3, Author(id=13, name="ci", bot=True)), text="", transcript_offset=0
    )
    assert person_waited_for("hook", bot, waiting) == 0


def test_each_request_names_whom_the_tracker_says_at_that_moment() -> None:
    queue = PromptQueue()
    tracker = TurnTracker(clock=lambda: 0.0, transcript=FakeTranscript(), queue=queue)
    sent: list[WorkerToSupervisor] = []

    async def send(item: WorkerToSupervisor) -> None:
        sent.append(item)

    async def run() -> None:
        broker = ChoiceBroker(3, send, timeout=5, waited_for=waited_for_in(tracker))
        await broker.open("question", "Trust this folder?", ["Yes", "No"], "startup")
        queue.offer(message(7, BOB))
        await broker.open("question", "Trust this folder?", ["Yes", "No"], "startup")
        queue.take("hi", 0)
        await broker.open("permission", "Bash: ls", ["Allow", "Deny"], "hook")

    asyncio.run(run())
    assert [r.mention_user_id for r in sent if isinstance(r, ChoiceRequest)] == [0, BOB.id, BOB.id]


def test_a_cancelled_choice_is_withdrawn_from_the_channel_an_answered_one_is_not() -> None:
    sent: list[WorkerToSupervisor] = []

    async def send(item: WorkerToSupervisor) -> None:
        sent.append(item)

    async def run() -> None:
        broker = ChoiceBroker(3, send, timeout=5)
        answered = await broker.open("question", "?", ["A", "B"], "hook")
        broker.answer(ChoiceAnswer(request_id=answered.request_id, session=3, option="A"))
        assert await broker.wait(answered) is not None
        cancelled = await broker.open("permission", "Bash: ls", ["Allow", "Deny"], "hook")
        broker.cancel(reason="interrupted")
        assert await broker.wait(cancelled) is None
        orphan = ChoiceRequest(request_id="old", session=3, kind="question", text="?", options=[])
        broker.orphans = [orphan]
        await broker.drop_orphans()
        await broker.drop_orphans()  # once only

    asyncio.run(run())
    withdrawn = [m for m in sent if isinstance(m, ChoiceWithdrawn)]
    assert [(w.request_id, w.session, w.reason) for w in withdrawn] == [
        (withdrawn[0].request_id, 3, "interrupted"),
        ("old", 3, "no longer on Claude's screen"),
    ]
    requests = [m.request_id for m in sent if isinstance(m, ChoiceRequest)]
    assert withdrawn[0].request_id == requests[1]
