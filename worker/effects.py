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
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import assert_never

import msgspec

from vai.protocol.links import WorkerToSupervisor
from vai.protocol.messages import (
    ClaudeState,
    ClaudeStatus,
    DeliveryUpdate,
    PromptStage,
    TurnEnded,
)
from vai.protocol.usage import TurnUsage
from vai.worker.attachments import AttachmentStore
from vai.worker.choices import ChoiceBroker
from vai.worker.delivery import TypingPipeline
from vai.worker.session_state import SessionState
from vai.worker.status_line import CostMeter
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
from vai.worker.usage import UsageReader, merged, same_text, with_cost

log = logging.getLogger("worker")
USAGE_POLL = 0.02


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
        usage: UsageReader | None = None,
        usage_wait: float = 0.0,
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
        self.usage = usage
        # How long a turn's post may wait for the transcript to hold its last API call
        # (0: never; its usage then counts with the next turn): worker/usage.py says why.
        self.usage_wait = usage_wait
        self.costs = CostMeter()  # fed by the hook server's status-line readings
        # id(EndTurn) -> its turn id, whether its transcript lags, and the seq of the last
        # statusLine reading at its end (None: no reading to wait for)
        self._usage_pending: dict[int, tuple[str, bool, int | None]] = {}
        self._holding = ""  # a turn waiting for its usage: not sent yet, nor any after it
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
                    turn_id = action.turn_id or str(uuid.uuid4())
                    turn = TurnEnded(
                        session=self.session,
                        turn_id=turn_id,
                        text=action.text,
                        message_ids=list(action.message_ids),
                        interrupted=action.interrupted,
                        failure=action.failure,
                        origin=action.origin,
                        usage=self.read_usage(action, turn_id),
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
                pending = self._usage_pending.pop(id(action), None)
                if pending is not None and self.usage_wait > 0:
                    await self.finish_usage(*pending, answer=action.text)
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

    def read_usage(self, end: EndTurn, turn_id: str) -> TurnUsage | None:
        """The turn's usage as far as the transcript and the CLI's statusLine readings
        hold it now (no await: journal).

        Both may lag the Stop hook: the transcript's last line, and the statusLine reading
        the CLI sends after the response (debounced). With `usage_wait` the post waits
        for them (finish_usage); without, what came late counts with the next turn."""
        if self.usage is None:
            return None
        reading = self.usage.take(self.state)
        costs = self.costs.count(self.state)
        done = end.interrupted or end.failure
        lags = bool(end.text) and not same_text(reading.last_text, end.text)
        seq = self.costs.seq if self.costs.latest is not None else None
        if not done and (lags or seq is not None):
            self._usage_pending[id(end)] = (turn_id, lags, seq)
        return with_cost(reading.usage, costs)

    async def finish_usage(self, turn_id: str, lags: bool, seq: int | None, answer: str) -> None:
        """Wait (a little) until the transcript holds the answer and a statusLine reading
        newer than the turn's end came, and add what came."""
        assert self.usage is not None
        deadline = time.monotonic() + self.usage_wait
        self._holding = turn_id  # the resend loop must not send it meanwhile
        costs = self.costs
        try:
            while True:
                lags = lags and not same_text(self.usage.peek(self.state).last_text, answer)
                fresh = seq is None or costs.seq > seq
                if not lags and fresh:
                    break
                if time.monotonic() > deadline:
                    log.info("turn %s: its usage or cost did not come in time", turn_id)
                    break
                await asyncio.sleep(USAGE_POLL)
        finally:
            self._holding = ""
        later = self.usage.take(self.state).usage if not lags else None
        cost = costs.count(self.state)
        later = with_cost(later, cost) if cost is not None and cost.cost_usd else later
        turns = self.state.unacked_turns
        for index, turn in enumerate(turns):
            if turn.turn_id == turn_id and turn.session == self.session:
                usage = merged(turn.usage, later)
                turns[index] = msgspec.structs.replace(turn, usage=usage)
        self.save()

    async def send_unacked_turns(self) -> None:
        """All unacknowledged turn ends, oldest first (the supervisor posts in arrival order),
        up to one still waiting for its usage."""
        for turn in list(self.state.unacked_turns):
            if turn.turn_id == self._holding:
                return
            await self.send(turn)

    async def update(self, message_id: int, stage: PromptStage, detail: str = "") -> None:
        update = DeliveryUpdate(
            session=self.session, message_id=message_id, stage=stage, detail=detail
        )
        await self.send(update)

    def forget_attachments(self, message_id: int) -> None:
        self.attachments.forget(message_id)
        self.state.attachments.pop(message_id, None)
