"""Claude's state and the turn lifecycle of one session: a pure state machine.

Events in (worker/turns/vocabulary.py: screen readings, hooks, ticks, deliveries, the
typist's steps, interrupts, pane death and readiness), actions out; no asyncio, no tmux,
no sockets. The clock is injected, and so is the transcript (read only when a rule needs
to know whether Claude durably holds a prompt), so every rule runs in a test in
milliseconds with a fake clock and the real CLI's screens.

The rules, each learnt from the real CLI (shared/notes/claude-code.md):
- One prompt at a time (worker/prompt_queue.py); UserPromptSubmit accepts it, Stop
  answers it, StopFailure (an API error) fails it. A Stop for a prompt that is not ours
  (typed by hand, Claude's own or another session's: worker/turns/origins.py, or ours
  never got in) is posted on its own and leaves ours in flight.
- A Stop that names background work still running leaves Claude `background`: at its
  prompt (a message may be typed), not idle, until a later Stop says it is all done.
- The CLI fires no Stop for a turn interrupted or denied in the terminal: an idle screen
  for TURN_ENDED_QUIETLY while a turn seemed under way ends it (by the transcript).
- Claude runs its Stop hooks before it redraws idle: a busy frame between a Stop and the
  first idle frame is the old turn's (STOP_REDRAW).
- After a worker or Claude restart the transcript decides: held means delivered (even if
  cut off), not held means typed again (even if UserPromptSubmit fired).
- Interrupts follow worker/turns/interruption.py.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import assert_never

from vai.protocol.hooks import (
    HookPayload,
    Notification,
    OtherHook,
    PermissionRequest,
    PostToolUse,
    PreToolUse,
    SessionEnd,
    SessionStart,
    Stop,
    StopFailure,
    UserPromptSubmit,
)
from vai.protocol.messages import ChatMessage, ClaudeState
from vai.worker import prompt_input
from vai.worker.prompt_queue import PromptQueue
from vai.worker.screen import Screen
from vai.worker.session_state import InFlight
from vai.worker.turns.interruption import Interruption
from vai.worker.turns.messages import Messages
from vai.worker.turns.states import ACTIVE, AT_PROMPT, READY, Stage, check_claude
from vai.worker.turns.turn_ends import Transcript, TurnEnds
from vai.worker.turns.vocabulary import (
    ALL_CHOICES,
    Action,
    Announce,
    AskEnded,
    AskKind,
    AskStarted,
    CancelChoices,
    ClearInput,
    Delivered,
    HookFired,
    InterruptRequested,
    NotSubmitted,
    PaneDenied,
    PaneDied,
    PaneReady,
    ScreenRead,
    Submitted,
    Tick,
    TurnEvent,
    Typing,
    Unsendable,
    Wake,
    WatchClosely,
)

log = logging.getLogger("worker.turns")

# Claude's screen idle this long while a turn seemed under way: the turn ended without a
# Stop hook (interrupted or denied in the terminal; the CLI fires no Stop for those).
TURN_ENDED_QUIETLY = 3.0
# Claude runs its Stop hooks before it redraws idle: a busy frame after a Stop and before
# the first idle one is the old turn's (a new turn says so with UserPromptSubmit), for at
# most this long (a Stop hook that blocks the stop makes Claude carry on).
STOP_REDRAW = 10.0
# A permission denied in the pane: the CLI redraws idle within this long.
DENIAL_SHOWS = 5.0
INTERRUPTED = "⏹️ Interrupted: Claude stopped this turn."
DENIED = "🚫 Permission denied: Claude stopped this turn."


class TurnTracker:
    def __init__(
        self,
        *,
        clock: Callable[[], float],
        transcript: Transcript,
        queue: PromptQueue | None = None,
    ) -> None:
        self._clock = clock
        self._transcript = transcript
        self.messages = Messages(PromptQueue() if queue is None else queue)
        self.claude: ClaudeState = "starting"
        self.turn_id = ""  # the prompt_id of the turn under way (tool progress names it)
        self.screen = Screen("starting")
        self._screen_since = clock()  # when the screen last looked different
        self._idle_since: float | None = None
        self._stopped_at = float("-inf")
        self._asking: list[AskKind] = []  # hooks waiting for the channel
        self._interruption: Interruption | None = None
        self.last_interrupt = ""  # how the last interrupt ended ("stopped", "nothing", ...)
        self._denial: tuple[InFlight | None, float] | None = None  # target, deadline
        self._turns = TurnEnds(self.messages, transcript)

    # -- queries ------------------------------------------------------------------------------

    @property
    def in_flight(self) -> InFlight | None:
        return self.messages.current

    @property
    def watching_closely(self) -> bool:
        """An interrupt or a denial is under way: every change of the pane counts."""
        return self._interruption is not None or self._denial is not None

    def next_message(self) -> ChatMessage | None:
        """The message to type now, if Claude is at its prompt and nothing is in flight."""
        return self.messages.next() if self.claude in AT_PROMPT else None

    # -- events -------------------------------------------------------------------------------

    def handle(self, event: TurnEvent) -> list[Action]:
        match event:
            case ScreenRead(screen=screen, answering=answering):
                return self._screen_read(screen, answering)
            case HookFired(hook=hook):
                return self._hook(hook)
            case Tick():
                return self._tick()
            case Delivered(message=message):
                return self.messages.delivered(message)
            case Typing():
                return self.messages.typing(event)
            case Submitted(message_id=message_id, pane=pane):
                return self.messages.submitted(message_id, pane)
            case NotSubmitted(message_id=message_id, why=why):
                return self.messages.not_submitted(message_id, why)
            case Unsendable(message_id=message_id, why=why):
                return self.messages.unsendable(message_id, why)
            case InterruptRequested(screen=screen):
                return self._interrupt(screen)
            case AskStarted(kind=kind):
                self._asking.append(kind)
                return self._set(kind, "a hook asks the channel")
            case AskEnded(kind=kind):
                if kind in self._asking:
                    self._asking.remove(kind)
                return self._set("busy", "the channel answered") if self.claude == kind else []
            case PaneDenied():
                return self._pane_denied()
            case PaneDied(pid=pid):
                return self._pane_died(pid)
            case PaneReady(screen=screen):
                return self._pane_ready(screen)
            case _:
                assert_never(event)

    # -- Claude's state -----------------------------------------------------------------------

    def _set(
        self, state: ClaudeState, why: str, pane_pid: int | None = None, ready: bool = False
    ) -> list[Action]:
        if state == self.claude or (self.claude == "dead" and not ready):
            return []  # a dead pane's state changes only when Claude is ready again
        check_claude(self.claude, state, why)
        log.info("claude %s -> %s", self.claude, state)
        self.claude = state
        self._idle_since = None
        return [Announce(state, pane_pid)]

    # -- the screen and the clock -------------------------------------------------------------

    def _look(self, screen: Screen) -> None:
        if screen != self.screen:
            self._screen_since = self._clock()
        self.screen = screen

    def _screen_read(self, screen: Screen, answering: bool) -> list[Action]:
        now = self._clock()
        self._look(screen)
        if self.claude == "dead":
            return []
        if screen.state == "idle":
            self._stopped_at = float("-inf")  # Claude has redrawn since the Stop
        actions: list[Action] = []
        if self._asking:
            actions += self._set(self._asking[-1], "a hook asks the channel")
        elif screen.state in ("permission", "question", "dialog"):
            actions += self._set(screen.state, "the screen asks")
        elif screen.state == "busy" and not self._old_turn_frame(now):
            actions += self._set("busy", "the screen is busy")
        if screen.state == "idle" and not self._asking:
            if self.claude in ("permission", "question", "dialog", "starting"):
                current = self.messages.current
                busy = current is not None and current.submitted
                actions += self._set("busy" if busy else "idle", "the dialog closed")
            if self.claude == "busy" and not answering and not self.watching_closely:
                if self._idle_since is None:
                    self._idle_since = now
            else:
                self._idle_since = None
        else:
            self._idle_since = None
        return actions + self._sequences(now)

    def _old_turn_frame(self, now: float) -> bool:
        return self.claude in AT_PROMPT and now - self._stopped_at < STOP_REDRAW

    def _tick(self) -> list[Action]:
        now = self._clock()
        if self.claude == "dead":
            return []
        actions = self._sequences(now)
        quiet = (
            self._idle_since is not None
            and now - self._idle_since >= TURN_ENDED_QUIETLY
            and self.claude == "busy"
            and not self._asking
            and not self.watching_closely
        )
        return actions + (self._turn_ended_quietly() if quiet else [])

    def _sequences(self, now: float) -> list[Action]:
        """Advance an interrupt or a denial under way."""
        actions: list[Action] = []
        if self._interruption is not None:
            actions += self._interruption.advance(self.screen, self._screen_since, now)
            actions += self._interruption_ended()
        if self._denial is not None:
            target, deadline = self._denial
            if self.screen.state == "idle":
                self._denial = None
                if self.messages.current is target:
                    actions += self._end_without_stop(target, "denied", self.screen.input_text)
            elif now >= deadline:
                self._denial = None
        return actions

    def _turn_ended_quietly(self) -> list[Action]:
        """Claude has been idle for a while, yet a turn seemed under way and no Stop came."""
        self._idle_since = None
        current = self.messages.current
        screen = self.screen
        if current is None:
            return self._set("idle", "the turn ended quietly")
        message_id = current.message.message_id
        if screen.input_text and prompt_input.same_prompt(screen.input_text, current.text):
            log.warning("message %d was interrupted in the terminal", message_id)
            return self._end_without_stop(current, "interrupted", screen.input_text)
        actions: list[Action]
        if self._transcript.holds(current):
            log.warning("message %d's turn ended without a Stop hook", message_id)
            answer = self._transcript.answer_after(current.transcript_offset)
            actions = self.messages.end_turn(answer, "interrupted")
        else:
            log.info("message %d is not in the conversation; typing it again", message_id)
            actions = self.messages.retry()
        return actions + self._set("idle", "the turn ended quietly")

    # -- hooks --------------------------------------------------------------------------------

    def _hook(self, hook: HookPayload) -> list[Action]:
        match hook:
            case UserPromptSubmit():
                return self._prompt_submitted(hook)
            case Stop() | StopFailure():
                return self._stopped(hook)
            case (
                SessionStart()
                | PreToolUse()
                | PermissionRequest()
                | PostToolUse()
                | Notification()
                | SessionEnd()
                | OtherHook()
            ):
                return []
            case _:
                assert_never(hook)

    def _prompt_submitted(self, hook: UserPromptSubmit) -> list[Action]:
        self.turn_id = hook.prompt_id or str(uuid.uuid4())
        return self._set("busy", "UserPromptSubmit") + self._turns.started(hook, self.turn_id)

    def _stopped(self, hook: Stop | StopFailure) -> list[Action]:
        self._stopped_at = self._clock()
        actions: list[Action] = [CancelChoices(ALL_CHOICES, "the turn ended")]
        actions += self._turns.ended(hook)
        running = hook.background_count if isinstance(hook, Stop) else 0
        if running:
            log.info("the turn left %d background task(s) running", running)
        return actions + self._set("background" if running else "idle", hook.event)

    # -- the message in flight ----------------------------------------------------------------

    def _end_without_stop(self, target: InFlight | None, how: Stage, box: str) -> list[Action]:
        """End the message whose turn stopped with no Stop hook (Escape, a denial in the
        pane). The CLI may have put its prompt back in the box: cleared."""
        actions: list[Action] = []
        if box and target is not None and prompt_input.same_prompt(box, target.text):
            actions.append(ClearInput())
        if target is not None and self.messages.current is target and target.submitted:
            partial = self._transcript.answer_after(target.transcript_offset)
            text = DENIED if how == "denied" else INTERRUPTED
            actions += self.messages.end_turn(f"{partial}\n\n{text}" if partial else text, how)
        self._idle_since = None
        return actions + self._set("idle", "the turn was stopped")

    # -- interrupts and denials ---------------------------------------------------------------

    def _interrupt(self, screen: Screen) -> list[Action]:
        self._look(screen)
        if self._interruption is not None:
            log.info("an interrupt is under way already")
            return []
        if self.claude == "dead":
            log.info("interrupt: Claude is dead, nothing to interrupt")
            self.last_interrupt = "dead"
            return []
        self._interruption = Interruption(self.messages.current)
        now = self._clock()
        actions = self._interruption.start(self.screen, self._screen_since, self.claude, now)
        actions += self._interruption_ended()
        return [WatchClosely(), *actions] if self.watching_closely else actions

    def _interruption_ended(self) -> list[Action]:
        run = self._interruption
        if run is None or not run.outcome:
            return []
        self._interruption = None
        self.last_interrupt = run.outcome
        if run.outcome == "nothing":
            return []
        actions: list[Action] = [CancelChoices(ALL_CHOICES, "interrupted")]
        if run.outcome == "stopped":
            actions += self._end_without_stop(run.target, "interrupted", self.screen.input_text)
        return actions

    def _pane_denied(self) -> list[Action]:
        self._denial = (self.messages.current, self._clock() + DENIAL_SHOWS)
        return [WatchClosely()]

    # -- restarts -----------------------------------------------------------------------------

    def _pane_died(self, pid: int | None) -> list[Action]:
        self._interruption = self._denial = None
        self._asking.clear()
        self._turns.forget()
        self._stopped_at = float("-inf")
        actions: list[Action] = [CancelChoices(ALL_CHOICES, "Claude exited")]
        return actions + self._set("dead", "the pane died", pane_pid=pid)

    def _pane_ready(self, screen: Screen) -> list[Action]:
        """Claude is up (again): finish, wait for, or retype the message in flight.

        Claude busy (or asking): a turn is running; its Stop decides (by the transcript)
        whether it was this message's. Claude idle: the transcript decides.
        """
        if screen.state not in READY:
            raise ValueError(f"Claude is not ready on a {screen.state} screen")
        self._look(screen)
        actions = self._set(screen.state, "Claude is ready", ready=True)
        if screen.state == "dialog":
            dialog = screen.dialog.replace("\n", " | ")
            log.warning("Claude shows a %s dialog at start: %s", screen.kind, dialog)
        current = self.messages.current
        if current is None or self.claude in ACTIVE:
            return actions
        message_id = current.message.message_id
        if self._transcript.holds(current):
            log.warning("message %d was taken by Claude but its turn never ended", message_id)
            return [*actions, *self.messages.end_turn("", "interrupted"), Wake()]
        log.info("message %d did not reach Claude; typing it again", message_id)
        return actions + self.messages.retry()
