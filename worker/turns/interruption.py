"""One interrupt request, from the first look at the pane to a turn that stayed stopped.

What the real CLI taught: Claude drops an Escape that comes before it has drawn the turn
(its prompt is taken, the box still shows it) and carries on, so Escape waits for the busy
screen (TURN_DRAWN); a fresh permission or question dialog drops keys too, so Escape waits
until it has been still a moment (DIALOG_SETTLE); and a stop counts only once Claude
stays stopped (STAYS_STOPPED), else Escape is pressed again, up to ESCAPES times. A
question held in its PreToolUse hook holds Claude as well, so after the second Escape
fails the channel's open questions are let go.

Pure: fed the latest screen (and since when it looks like that) and the time, it says
which keys to press and, in `outcome`, how it ended.
"""

from __future__ import annotations

import enum
import logging
from typing import Literal

from vai.protocol.messages import ClaudeState
from vai.worker.screen import Screen
from vai.worker.session_state import InFlight
from vai.worker.turns.states import ACTIVE
from vai.worker.turns.vocabulary import Action, CancelChoices, PressKey

log = logging.getLogger("worker.turns")

TURN_DRAWN = 3.0  # seconds for Claude to draw a turn whose prompt it took
STAYS_STOPPED = 0.5  # seconds a stopped turn must stay stopped to count
STOP_WAIT = 1.0  # seconds for Claude to stop after an Escape
DIALOG_SETTLE = 0.3  # a dialog this fresh drops keys
SETTLE_LIMIT = 5.0  # a dialog that never stands still gets its Escape anyway
ESCAPES = 4

Outcome = Literal["", "stopped", "gave_up", "nothing"]


class Phase(enum.Enum):
    DRAWING = "waiting for Claude to draw the turn"
    SETTLING = "waiting for the dialog to stand still"
    ESCAPED = "waiting for Claude to stop"
    STOPPED = "checking that Claude stays stopped"


def active(screen: Screen) -> bool:
    return screen.state in ACTIVE


class Interruption:
    def __init__(self, target: InFlight | None) -> None:
        self.target = target  # the message in flight when it was asked for
        self.outcome: Outcome = ""
        self.phase = Phase.DRAWING
        self.escapes = 0
        self.deadline = 0.0

    def start(self, screen: Screen, since: float, claude: ClaudeState, now: float) -> list[Action]:
        if active(screen):
            return self._press(screen, since, now)
        if claude in ACTIVE:  # the prompt is taken, the turn not drawn yet
            self._enter(Phase.DRAWING, now + TURN_DRAWN)
            return []
        self._nothing(screen)
        return []

    def advance(self, screen: Screen, since: float, now: float) -> list[Action]:
        """Called with every fresh screen and on every tick while under way."""
        match self.phase:
            case Phase.DRAWING:
                if active(screen):
                    return self._press(screen, since, now)
                if now >= self.deadline:
                    self._nothing(screen)
            case Phase.SETTLING:
                if not active(screen):  # it went away by itself
                    self._enter(Phase.STOPPED, now + STAYS_STOPPED)
                elif not _fresh_dialog(screen, since, now) or now >= self.deadline:
                    return self._escape(now)
            case Phase.ESCAPED:
                if not active(screen):
                    self._enter(Phase.STOPPED, now + STAYS_STOPPED)
                elif now >= self.deadline:
                    actions: list[Action] = []
                    if self.escapes == 2:
                        actions.append(CancelChoices(("question",), "interrupted"))
                    return actions + self._again(screen, since, now)
            case Phase.STOPPED:
                if active(screen):
                    log.info("Claude carried on after Escape; pressing it again")
                    return self._again(screen, since, now)
                if now >= self.deadline:
                    self.outcome = "stopped"
        return []

    # -- internals --------------------------------------------------------------------------

    def _again(self, screen: Screen, since: float, now: float) -> list[Action]:
        if self.escapes >= ESCAPES:
            log.warning("Claude did not stop after Escape")
            self.outcome = "gave_up"
            return []
        return self._press(screen, since, now)

    def _press(self, screen: Screen, since: float, now: float) -> list[Action]:
        if self.escapes == 0:
            log.info("interrupting Claude (Escape)")
        if _fresh_dialog(screen, since, now):
            self._enter(Phase.SETTLING, now + SETTLE_LIMIT)
            return []
        return self._escape(now)

    def _escape(self, now: float) -> list[Action]:
        self.escapes += 1
        self._enter(Phase.ESCAPED, now + STOP_WAIT)
        return [PressKey("Escape")]

    def _enter(self, phase: Phase, deadline: float) -> None:
        self.phase, self.deadline = phase, deadline

    def _nothing(self, screen: Screen) -> None:
        log.info("interrupt: Claude is %s, nothing to interrupt", screen.state)
        self.outcome = "nothing"


def _fresh_dialog(screen: Screen, since: float, now: float) -> bool:
    return screen.state in ("permission", "question") and now - since < DIALOG_SETTLE
