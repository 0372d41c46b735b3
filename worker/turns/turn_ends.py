"""Whose turn a UserPromptSubmit starts and a Stop or StopFailure ends: pure.

The message in flight is ours when the composer's prompt is its text. A turn started by
a prompt the bridge did not type (worker/turns/origins.py) is remembered by its prompt_id:
its end is posted on its own, with where it came from, and never finishes, acknowledges
or names a Discord message. A Stop while ours is in flight but not yet in the
conversation is another turn's too. StopFailure ends the turn like a Stop, failed, with
the CLI's reason.
"""

from __future__ import annotations

import logging
from typing import Protocol

from vai.protocol.hooks import Stop, StopFailure, UserPromptSubmit
from vai.worker.session_state import InFlight
from vai.worker.turns.messages import Messages
from vai.worker.turns.origins import COMPOSER_SOURCES, failure_text, foreign_origin
from vai.worker.turns.states import Stage
from vai.worker.turns.vocabulary import Action, EndTurn

log = logging.getLogger("worker.turns")


class Transcript(Protocol):
    """What Claude's conversation durably holds (worker/transcript.py reads the file)."""

    def holds(self, in_flight: InFlight) -> bool: ...

    def answer_after(self, offset: int) -> str: ...


class TurnEnds:
    def __init__(self, messages: Messages, transcript: Transcript) -> None:
        self.messages = messages
        self.transcript = transcript
        self._foreign: dict[str, str] = {}  # prompt_id -> origin of turns not typed by us

    def started(self, hook: UserPromptSubmit, turn_id: str) -> list[Action]:
        # The composer's prompt that is the message in flight is ours, whatever it says.
        ours = self.messages.accepted(hook.prompt) if hook.source in COMPOSER_SOURCES else None
        if ours is not None:
            return ours
        origin = foreign_origin(hook)
        if origin:
            log.info("a turn the bridge did not type started: %s", origin)
            self._foreign[turn_id] = origin
        else:
            log.info("a prompt typed in the pane by hand started a turn")
        return []

    def ended(self, hook: Stop | StopFailure) -> list[Action]:
        failure = failure_text(hook) if isinstance(hook, StopFailure) else ""
        text = "" if failure else hook.last_assistant_message or ""
        origin = self._foreign.pop(hook.prompt_id, "") if hook.prompt_id else ""
        current = self.messages.current
        theirs = current is not None and not (current.submitted or self.transcript.holds(current))
        if origin or theirs:
            if current is not None:
                log.info("a turn ended that was not message %d's", current.message.message_id)
            return [EndTurn(text, hook.prompt_id, failure=failure, origin=origin)]
        how: Stage = "failed" if failure else "answered"
        return self.messages.end_turn(text, how, hook.prompt_id, failure)

    def forget(self) -> None:
        """Claude died: the turns it had started are over."""
        self._foreign.clear()
