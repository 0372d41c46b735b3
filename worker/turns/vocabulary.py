"""What the turn tracker is told (events) and what it asks the worker to do (actions).

Plain frozen values, so a test can feed events and compare the actions it gets back. The
worker's I/O shell (worker/main.py) turns sockets, hooks and the pane into events, and
carries the actions out in the order given: journal changes first (all of one event's in
one write), then messages and keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from vai.protocol.hooks import HookPayload
from vai.protocol.messages import ChatMessage, ClaudeState
from vai.worker.screen import Screen

AskKind = Literal["permission", "question"]
ChoiceKinds = tuple[AskKind, ...]
ALL_CHOICES: ChoiceKinds = ("permission", "question")

# -- events: what happened ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScreenRead:
    """A fresh reading of the pane; `answering`: a dialog on it is being answered
    (worker/attention.py), so an idle frame in between says nothing about the turn."""

    screen: Screen
    answering: bool = False


@dataclass(frozen=True, slots=True)
class HookFired:
    """Claude ran a hook (live, or replayed from the spool: both count for the turn)."""

    hook: HookPayload


@dataclass(frozen=True, slots=True)
class Tick:
    """Time passed: the time-driven rules run (the tracker reads its own clock)."""


@dataclass(frozen=True, slots=True)
class Delivered:
    """The supervisor delivered a message (again, perhaps: it resends until a turn ends)."""

    message: ChatMessage


@dataclass(frozen=True, slots=True)
class Typing:
    """The next message is going into the box: it is in flight from now on."""

    message_id: int
    text: str
    transcript_offset: int


@dataclass(frozen=True, slots=True)
class Submitted:
    """Enter was taken for the message in flight (or a slash command ran)."""

    message_id: int


@dataclass(frozen=True, slots=True)
class NotSubmitted:
    """The message in flight did not get into Claude (not echoed, Enter lost)."""

    message_id: int
    why: str


@dataclass(frozen=True, slots=True)
class Unsendable:
    """The next message cannot be typed at all (its files failed, it has no text)."""

    message_id: int
    why: str


@dataclass(frozen=True, slots=True)
class InterruptRequested:
    """Someone asked to stop the turn; `screen` is read at that moment."""

    screen: Screen


@dataclass(frozen=True, slots=True)
class AskStarted:
    """A hook waits for the channel to answer a permission or a question."""

    kind: AskKind


@dataclass(frozen=True, slots=True)
class AskEnded:
    kind: AskKind


@dataclass(frozen=True, slots=True)
class PaneDenied:
    """A permission was denied in the pane: the CLI ends such a turn with no Stop hook."""


@dataclass(frozen=True, slots=True)
class PaneDied:
    pid: int | None


@dataclass(frozen=True, slots=True)
class PaneReady:
    """Claude shows a screen after a (re)start: idle, busy, asking or a dialog."""

    screen: Screen


TurnEvent = (
    ScreenRead
    | HookFired
    | Tick
    | Delivered
    | Typing
    | Submitted
    | NotSubmitted
    | Unsendable
    | InterruptRequested
    | AskStarted
    | AskEnded
    | PaneDenied
    | PaneDied
    | PaneReady
)

# -- actions: what the worker does about it ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class Announce:
    """Claude's state changed: tell the supervisor (and wake the typist)."""

    state: ClaudeState
    pane_pid: int | None = None


@dataclass(frozen=True, slots=True)
class EndTurn:
    """A turn ended: journal it, then send it until acknowledged. `turn_id` '' means
    the worker makes one up; `message_ids` are the messages it finishes (none for a
    turn typed in the pane by hand)."""

    text: str
    turn_id: str = ""
    message_ids: tuple[int, ...] = ()
    interrupted: bool = False


@dataclass(frozen=True, slots=True)
class Accepted:
    """Claude took the message as a prompt (the channel shows it)."""

    message: ChatMessage


@dataclass(frozen=True, slots=True)
class MessageDone:
    """A message finished without a turn: a slash command ran, or it failed."""

    message: ChatMessage
    stage: Literal["done", "failed"]
    detail: str


@dataclass(frozen=True, slots=True)
class Queued:
    """A new message waits: fetch its files early, and wake the typist."""

    message: ChatMessage


@dataclass(frozen=True, slots=True)
class SaveJournal:
    """The message in flight changed: the journal must say so before anything else."""


@dataclass(frozen=True, slots=True)
class PromptTaken:
    """UserPromptSubmit for the message being typed: the Enter loop can stop."""


@dataclass(frozen=True, slots=True)
class Wake:
    """The typist should look at the queue again."""


@dataclass(frozen=True, slots=True)
class ClearInput:
    """Empty Claude's input box (a stopped turn put its prompt back there)."""


@dataclass(frozen=True, slots=True)
class PressKey:
    key: str


@dataclass(frozen=True, slots=True)
class CancelChoices:
    """Choices of these kinds asked in the channel no longer apply."""

    kinds: ChoiceKinds
    reason: str


@dataclass(frozen=True, slots=True)
class WatchClosely:
    """A timed sequence (an interrupt, a denial) began: read the pane at every change
    until `TurnTracker.watching_closely` is False again."""


Action = (
    Announce
    | EndTurn
    | Accepted
    | MessageDone
    | Queued
    | SaveJournal
    | PromptTaken
    | Wake
    | ClearInput
    | PressKey
    | CancelChoices
    | WatchClosely
)
