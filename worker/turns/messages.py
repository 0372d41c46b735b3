"""A session's messages, from the queue to their end: each step checked against the
stage table (worker/turns/states.py) and journaled before anything else happens.

One prompt at a time (worker/prompt_queue.py). The typist says when it types, submits or
gives up; the turn's end says how it ended. A message taken into the box is journaled
before the first key, so a worker killed while typing is followed by one that knows what
may be in Claude.
"""

from __future__ import annotations

import logging

from vai.protocol.messages import ChatMessage
from vai.worker import prompt_input
from vai.worker.prompt_queue import PromptQueue
from vai.worker.screen import conversation_lines, read_screen
from vai.worker.session_state import InFlight
from vai.worker.turns.slash import slash_outcome
from vai.worker.turns.states import Stage, check_stage
from vai.worker.turns.vocabulary import (
    Accepted,
    Action,
    EndTurn,
    MessageDone,
    PromptTaken,
    Queued,
    SaveJournal,
    Typing,
    Wake,
)

log = logging.getLogger("worker.turns")


class Messages:
    def __init__(self, queue: PromptQueue) -> None:
        self.queue = queue

    @property
    def current(self) -> InFlight | None:
        return self.queue.current

    def next(self) -> ChatMessage | None:
        return self.queue.peek()

    def delivered(self, message: ChatMessage) -> list[Action]:
        if not self.queue.offer(message):
            return []  # the supervisor resends until the turn ends: one copy is enough
        log.info("queued message %d (%d waiting)", message.message_id, len(self.queue))
        return [Queued(message)]

    def typing(self, event: Typing) -> list[Action]:
        waiting = self.queue.peek()
        if waiting is None or waiting.message_id != event.message_id:
            raise RuntimeError(f"message {event.message_id} is not next in the queue")
        _step(event.message_id, "queued", "typing")
        self.queue.take(event.text, event.transcript_offset)
        return [SaveJournal()]  # before the first key: a new worker must know

    def accepted(self, prompt: str) -> list[Action] | None:
        """UserPromptSubmit with `prompt`: ours (actions), or None for a prompt typed by hand."""
        current = self.queue.current
        if current is None or not prompt_input.same_prompt(current.text, prompt):
            return None
        actions: list[Action] = []
        if not current.submitted:
            _step(current.message.message_id, "typing", "accepted")
            current.submitted = True
            actions += [SaveJournal(), Accepted(current.message)]
        return [*actions, PromptTaken()]

    def submitted(self, message_id: int, pane: str = "") -> list[Action]:
        current = self.queue.current
        if current is None or current.message.message_id != message_id or current.submitted:
            return []
        if not prompt_input.is_slash_command(current.text):
            return []  # its UserPromptSubmit is on its way
        # The CLI ran it: no model turn, no Stop; the pane says how it went.
        conversation = conversation_lines(pane) if pane.strip() else []
        outcome = slash_outcome(current.text, conversation, read_screen(pane).dialog)
        _step(message_id, "typing", outcome.stage)
        self.queue.finish()
        return [MessageDone(current.message, outcome.stage, outcome.detail), SaveJournal()]

    def not_submitted(self, message_id: int, why: str) -> list[Action]:
        current = self.queue.current
        if current is None or current.message.message_id != message_id:
            return []
        log.warning("message %d %s; it goes back to the queue", message_id, why)
        return self.retry()

    def unsendable(self, message_id: int, why: str) -> list[Action]:
        waiting = self.queue.peek()
        if waiting is None or waiting.message_id != message_id:
            return []
        log.warning("message %d failed: %s", message_id, why)
        _step(message_id, "queued", "failed")
        self.queue.take("", 0)
        self.queue.finish()
        return [MessageDone(waiting, "failed", why), SaveJournal()]

    def end_turn(self, text: str, how: Stage, turn_id: str = "", failure: str = "") -> list[Action]:
        """The turn of the message in flight (if any) ended: it is finished (`failure`:
        why an API error ended it)."""
        done = self.queue.finish()
        ids: tuple[int, ...] = ()
        if done is not None:
            _step(done.message.message_id, _stage(done), how)
            ids = (done.message.message_id,)
        interrupted = how not in ("answered", "failed")
        end = EndTurn(text, turn_id, ids, interrupted=interrupted, failure=failure)
        return [end]

    def retry(self) -> list[Action]:
        """The message in flight never reached the conversation: it is typed again."""
        current = self.queue.current
        if current is None:
            return []
        _step(current.message.message_id, _stage(current), "queued")
        self.queue.retry()
        return [SaveJournal(), Wake()]


def _stage(in_flight: InFlight) -> Stage:
    return "accepted" if in_flight.submitted else "typing"


def _step(message_id: int, old: Stage, new: Stage) -> None:
    check_stage(message_id, old, new)
    log.debug("message %d: %s -> %s", message_id, old, new)
