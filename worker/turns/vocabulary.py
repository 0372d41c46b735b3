"""What the turn tracker is told (events) and what it asks the worker to do (actions).

Plain frozen values, so a test can feed events and compare the actions it gets back
(msgspec Structs: this many dataclasses would add ~45 ms of CPU to every worker's
start). The worker's I/O shell (worker/main.py) turns sockets, hooks and the pane into
events, and carries the actions out in the order given: journal changes first (all of
one event's in one write), then messages and keys.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from vai.protocol.hooks import HookPayload
from vai.protocol.messages import ChatMessage, ClaudeState
from vai.worker.screen import Screen

AskKind = Literal["permission", "question"]
ChoiceKinds = tuple[AskKind, ...]
ALL_CHOICES: ChoiceKinds = ("permission", "question")

# -- events: what happened ------------------------------------------------------------------


class ScreenRead(msgspec.Struct, frozen=True):
    """A fresh reading of the pane; `answering`: a dialog on it is being answered
    (worker/attention.py), so an idle frame in between says nothing about the turn."""

    screen: Screen
    answering: bool = False


class HookFired(msgspec.Struct, frozen=True):
    """Claude ran a hook (live, or replayed from the spool: both count for the turn)."""

    hook: HookPayload


class Tick(msgspec.Struct, frozen=True):
    """Time passed: the time-driven rules run (the tracker reads its own clock)."""


class Delivered(msgspec.Struct, frozen=True):
    """The supervisor delivered a message (again, perhaps: it resends until a turn ends)."""

    message: ChatMessage


class Typing(msgspec.Struct, frozen=True):
    """The next message is going into the box: it is in flight from now on."""

    message_id: int
    text: str
    transcript_offset: int


class Submitted(msgspec.Struct, frozen=True):
    """Enter was taken for the message in flight (or a slash command ran: `pane` is the
    settled pane then, what the CLI printed for it)."""

    message_id: int
    pane: str = ""


class NotSubmitted(msgspec.Struct, frozen=True):
    """The message in flight did not get into Claude (not echoed, Enter lost)."""

    message_id: int
    why: str


class Unsendable(msgspec.Struct, frozen=True):
    """The next message cannot be typed at all (its files failed, it has no text)."""

    message_id: int
    why: str


class InterruptRequested(msgspec.Struct, frozen=True):
    """Someone asked to stop the turn; `screen` is read at that moment."""

    screen: Screen


class AskStarted(msgspec.Struct, frozen=True):
    """A hook waits for the channel to answer a permission or a question."""

    kind: AskKind


class AskEnded(msgspec.Struct, frozen=True):
    kind: AskKind


class PaneDenied(msgspec.Struct, frozen=True):
    """A permission was denied in the pane: the CLI ends such a turn with no Stop hook."""


class PaneDied(msgspec.Struct, frozen=True):
    pid: int | None


class PaneReady(msgspec.Struct, frozen=True):
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


class Announce(msgspec.Struct, frozen=True):
    """Claude's state changed: tell the supervisor (and wake the typist)."""

    state: ClaudeState
    pane_pid: int | None = None


class EndTurn(msgspec.Struct, frozen=True):
    """A turn ended: journal it, then send it until acknowledged. `turn_id` '' means
    the worker makes one up; `message_ids` are the messages it finishes (none for a
    turn typed in the pane by hand). `failure`: why an API error ended it; `origin`:
    where a prompt the bridge did not type came from (protocol TurnEnded)."""

    text: str
    turn_id: str = ""
    message_ids: tuple[int, ...] = ()
    interrupted: bool = False
    failure: str = ""
    origin: str = ""


class Accepted(msgspec.Struct, frozen=True):
    """Claude took the message as a prompt (the channel shows it)."""

    message: ChatMessage


class MessageDone(msgspec.Struct, frozen=True):
    """A message finished without a turn: a slash command ran, or it failed."""

    message: ChatMessage
    stage: Literal["done", "failed"]
    detail: str


class Queued(msgspec.Struct, frozen=True):
    """A new message waits: fetch its files early, and wake the typist."""

    message: ChatMessage


class SaveJournal(msgspec.Struct, frozen=True):
    """The message in flight changed: the journal must say so before anything else."""


class PromptTaken(msgspec.Struct, frozen=True):
    """UserPromptSubmit for the message being typed: the Enter loop can stop."""


class Wake(msgspec.Struct, frozen=True):
    """The typist should look at the queue again."""


class ClearInput(msgspec.Struct, frozen=True):
    """Empty Claude's input box (a stopped turn put its prompt back there)."""


class PressKey(msgspec.Struct, frozen=True):
    key: str


class CancelChoices(msgspec.Struct, frozen=True):
    """Choices of these kinds asked in the channel no longer apply."""

    kinds: ChoiceKinds
    reason: str


class WatchClosely(msgspec.Struct, frozen=True):
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
