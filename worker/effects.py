"""Carrying out the turn tracker's actions, journal first.

The tracker changes its state the moment it decides; the journal must follow in the same
step, before anything can leave the process or another event be handled: a worker killed
after a turn was taken off the queue, but before that turn end was journaled, would lose
it. So each batch is applied in two parts: its journal changes, all at once and without
waiting (one atomic write), then its messages and keys, in order, one batch after another
(a lock keeps batches from interleaving). The state announced to the supervisor (and
that the typist waits for) is the tracker's as of the last batch carried out: an idle
announced after a box is cleared is idle only once the box is clear.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import assert_never

from vai.protocol.links import WorkerToSupervisor
from vai.protocol.messages import (
    ClaudeState,
    ClaudeStatus,
    DeliveryUpdate,
    PromptStage,
    TurnEnded,
)
from vai.worker.attachments import AttachmentStore
from vai.worker.choices import ChoiceBroker
from vai.worker.delivery import TypingPipeline
from vai.worker.session_state import SessionState
from vai.worker.turns.vocabulary import (
    Accepted,
    Action,
    Announce,
    CancelChoices,
    ClearInput,
    EndTurn,
    MessageDone,
    PressKey,
    PromptTaken,
    Queued,
    SaveJournal,
    Wake,
    WatchClosely,
)
from vai.worker.typist import Typist

log = logging.getLogger("worker")


class Effects:
    def __init__(
        self,
        *,
        session: int,
        state: SessionState,
        save: Callable[[], None],
        send: Callable[[WorkerToSupervisor], Awaitable[None]],
        choices: ChoiceBroker,
        typist: Typist,
        typing: TypingPipeline,
        attachments: AttachmentStore,
        watch_closely: Callable[[], None],
    ) -> None:
        self.session = session
        self.state = state
        self.save = save
        self.send = send
        self.choices = choices
        self.typist = typist
        self.typing = typing
        self.attachments = attachments
        self.watch_closely = watch_closely
        self.claude: ClaudeState = "starting"  # as announced
        self._in_order = asyncio.Lock()

    async def apply(self, actions: list[Action]) -> None:
        if not actions:
            return
        self.journal(actions)
        async with self._in_order:
            for action in actions:
                await self.perform(action)

    def journal(self, actions: list[Action]) -> None:
        """The batch's journal changes, in one write (no await in here)."""
        changed = False
        for action in actions:
            match action:
                case EndTurn():
                    turn = TurnEnded(
                        session=self.session,
                        turn_id=action.turn_id or str(uuid.uuid4()),
                        text=action.text,
                        message_ids=list(action.message_ids),
                        interrupted=action.interrupted,
                        failure=action.failure,
                        origin=action.origin,
                    )
                    self.state.unacked_turns.append(turn)
                    for message_id in action.message_ids:
                        self.forget_attachments(message_id)
                    changed = True
                case MessageDone(message=message):
                    self.forget_attachments(message.message_id)
                    changed = True
                case SaveJournal():
                    changed = True
        if changed:
            self.save()

    async def perform(self, action: Action) -> None:
        match action:
            case Announce(state=state, pane_pid=pane_pid):
                self.claude = state
                await self.send(ClaudeStatus(session=self.session, state=state, pane_pid=pane_pid))
                self.typing.wake()
            case EndTurn():
                await self.send_unacked_turns()
            case Accepted(message=message):
                await self.update(message.message_id, "accepted")
            case MessageDone(message=message, stage=stage, detail=detail):
                await self.update(message.message_id, stage, detail)
            case Queued(message=message):
                self.attachments.prefetch(message, self.state.attachments)
                self.typing.wake()
            case PromptTaken():
                self.typing.prompt_seen.set()
            case Wake():
                self.typing.wake()
            case ClearInput():
                await self.typist.clear_input()
            case PressKey(key=key):
                await self.typist.pane.send_key(key)
            case CancelChoices(kinds=kinds, reason=reason):
                self.choices.cancel(kinds, reason=reason)
            case WatchClosely():
                self.watch_closely()
            case SaveJournal():
                pass  # written in journal()
            case _:
                assert_never(action)

    async def send_unacked_turns(self) -> None:
        """All unacknowledged turn ends, oldest first (the supervisor posts in arrival order)."""
        for turn in list(self.state.unacked_turns):
            await self.send(turn)

    async def update(self, message_id: int, stage: PromptStage, detail: str = "") -> None:
        update = DeliveryUpdate(
            session=self.session, message_id=message_id, stage=stage, detail=detail
        )
        await self.send(update)

    def forget_attachments(self, message_id: int) -> None:
        self.attachments.forget(message_id)
        self.state.attachments.pop(message_id, None)
