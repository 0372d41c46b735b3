"""The turn tracker, driven by the real CLI's screens (tests/fixtures/real_screens) and a fake
clock: every rule of worker/turns in milliseconds, no processes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.clock import FakeClock
from tests.unit.worker.test_screen import real
from vai.protocol.hooks import HookPayload, OtherHook, Stop, UserPromptSubmit
from vai.protocol.messages import Author, ChatMessage, ClaudeState
from vai.worker.prompt_queue import PromptQueue
from vai.worker.screen import Screen
from vai.worker.session_state import InFlight
from vai.worker.turns.interruption import STAYS_STOPPED, STOP_WAIT, TURN_DRAWN
from vai.worker.turns.states import IllegalTransition, check_claude, check_stage
from vai.worker.turns.tracker import (
    DENIED,
    INTERRUPTED,
    STOP_REDRAW,
    TURN_ENDED_QUIETLY,
    TurnTracker,
)
from vai.worker.turns.vocabulary import (
    Accepted,
    Action,
    Announce,
    AskEnded,
    AskStarted,
    CancelChoices,
    ClearInput,
    Delivered,
    EndTurn,
    HookFired,
    InterruptRequested,
    MessageDone,
    NotSubmitted,
    PaneDenied,
    PaneDied,
    PaneReady,
    PressKey,
    PromptTaken,
    Queued,
    SaveJournal,
    ScreenRead,
    Submitted,
    Tick,
    TurnEvent,
    Typing,
    Unsendable,
    Wake,
    WatchClosely,
)

IDLE, BUSY = real("idle"), real("busy")
RESTORED = real("interrupted_prompt_restored")  # Escape put the prompt "slow" back in the box
PERMISSION = real("permission_bash")
ESCAPE = PressKey("Escape")


class FakeTranscript:
    """What the conversation holds, set by the test."""

    def __init__(self) -> None:
        self.held: set[str] = set()
        self.answer = ""

    def holds(self, in_flight: InFlight) -> bool:
        return in_flight.text in self.held

    def answer_after(self, offset: int) -> str:
        return self.answer


class Rig:
    def __init__(self, queue: PromptQueue | None = None) -> None:
        self.clock = FakeClock()
        self.transcript = FakeTranscript()
        self.tracker = TurnTracker(clock=self.clock, transcript=self.transcript, queue=queue)
        self.next_id = 1

    def feed(self, *events: TurnEvent) -> list[Action]:
        return [action for event in events for action in self.tracker.handle(event)]

    def screen(self, screen: Screen, answering: bool = False) -> list[Action]:
        return self.feed(ScreenRead(screen, answering), Tick())

    def wait(
        self, seconds: float, screen: Screen | None = None, every: float = 0.1
    ) -> list[Action]:
        """Let time pass, the pane read (showing `screen`, else the last one) and ticks."""
        actions: list[Action] = []
        end = self.clock.now + seconds
        while self.clock.now < end - 1e-9:
            self.clock.advance(min(every, end - self.clock.now))
            actions += self.screen(screen or self.tracker.screen)
        return actions

    def hook(self, hook: HookPayload) -> list[Action]:
        return self.feed(HookFired(hook))

    def ready(self, screen: Screen = IDLE) -> list[Action]:
        return self.feed(PaneReady(screen))

    def message(self, content: str) -> ChatMessage:
        message = ChatMessage(
            message_id=self.next_id, channel_id=9, author=Author(id=1, name="u"), content=content
        )
        self.next_id += 1
        return message

    def type(self, content: str) -> ChatMessage:
        """Deliver a message and type it into the box, as the typist does (not submitted)."""
        message = self.message(content)
        assert self.feed(Delivered(message)) == [Queued(message)]
        assert self.tracker.next_message() == message
        assert self.feed(Typing(message.message_id, content, 100)) == [SaveJournal()]
        return message

    def submit(self, content: str, prompt_id: str = "p1") -> ChatMessage:
        """Type a message and have Claude take it (UserPromptSubmit)."""
        message = self.type(content)
        self.hook(UserPromptSubmit(prompt=content, prompt_id=prompt_id))
        assert self.feed(Submitted(message.message_id)) == []
        return message


def announced(actions: list[Action]) -> list[ClaudeState]:
    return [a.state for a in actions if isinstance(a, Announce)]


def ends(actions: list[Action]) -> list[EndTurn]:
    return [a for a in actions if isinstance(a, EndTurn)]


def only(kind: type[Any], actions: list[Action]) -> list[Any]:
    return [a for a in actions if isinstance(a, kind)]


@pytest.fixture
def rig() -> Rig:
    rig = Rig()
    assert rig.ready() == [Announce("idle")]
    return rig


# -- a message's life ---------------------------------------------------------------------------


def test_a_message_is_typed_accepted_and_answered(rig: Rig) -> None:
    message = rig.type("hello")
    assert rig.tracker.next_message() is None  # one prompt at a time
    taken = rig.hook(UserPromptSubmit(prompt="hello", prompt_id="p1"))
    assert taken == [Announce("busy"), SaveJournal(), Accepted(message), PromptTaken()]
    in_flight = rig.tracker.in_flight
    assert in_flight is not None and in_flight.submitted and in_flight.transcript_offset == 100
    assert rig.feed(Submitted(message.message_id)) == []  # its hook came first
    assert rig.screen(BUSY) == []
    stopped = rig.hook(Stop(last_assistant_message="hi!", prompt_id="p1"))
    assert stopped == [
        CancelChoices(("permission", "question"), "the turn ended"),
        EndTurn("hi!", turn_id="p1", message_ids=(message.message_id,)),
        Announce("idle"),
    ]
    assert rig.tracker.in_flight is None and rig.tracker.turn_id == "p1"


def test_a_message_delivered_twice_is_queued_once() -> None:
    queue = PromptQueue()
    rig = Rig(queue)
    first, second = rig.message("a"), rig.message("b")
    queue.restore(
        InFlight(message=first, text="a", transcript_offset=0), finished=[second.message_id]
    )
    assert rig.feed(Delivered(first), Delivered(second)) == []  # the supervisor resends
    third = rig.message("c")
    assert rig.feed(Delivered(third), Delivered(third)) == [Queued(third)]


def test_the_next_message_waits_for_idle(rig: Rig) -> None:
    rig.submit("one")
    waiting = rig.message("two")
    rig.feed(Delivered(waiting))
    assert rig.tracker.next_message() is None
    rig.hook(Stop(last_assistant_message="", prompt_id="p1"))
    assert rig.tracker.next_message() == waiting


def test_a_prompt_typed_by_hand_is_answered_on_its_own(rig: Rig) -> None:
    assert rig.hook(UserPromptSubmit(prompt="by hand", prompt_id="h")) == [Announce("busy")]
    assert rig.hook(Stop(last_assistant_message="ok", prompt_id="h")) == [
        CancelChoices(("permission", "question"), "the turn ended"),
        EndTurn("ok", turn_id="h"),
        Announce("idle"),
    ]


def test_a_stop_that_is_not_our_messages_turn_leaves_it_in_flight(rig: Rig) -> None:
    """Our prompt is in the box, not taken: the turn that ended was someone else's."""
    message = rig.type("ours")
    actions = rig.hook(Stop(last_assistant_message="theirs", prompt_id="x"))
    assert ends(actions) == [EndTurn("theirs", turn_id="x")]
    in_flight = rig.tracker.in_flight
    assert in_flight is not None and in_flight.message == message


def test_a_stop_whose_prompt_the_transcript_holds_is_our_answer(rig: Rig) -> None:
    """UserPromptSubmit went to a dead worker, but the conversation has our prompt."""
    message = rig.type("ours")
    rig.transcript.held.add("ours")
    actions = rig.hook(Stop(last_assistant_message="answer", prompt_id="p"))
    assert ends(actions) == [EndTurn("answer", turn_id="p", message_ids=(message.message_id,))]


def test_a_slash_command_is_done_without_a_turn(rig: Rig) -> None:
    message = rig.type("/clear")
    assert rig.feed(Submitted(message.message_id)) == [
        MessageDone(message, "done", "Claude Code ran `/clear`."),
        SaveJournal(),
    ]
    assert rig.tracker.in_flight is None


def test_an_unknown_slash_command_fails_with_what_the_cli_said(rig: Rig) -> None:
    message = rig.type("/frobnicate")
    pane = "\n".join(
        ["● Unknown command: /frobnicate", "─" * 40, "❯\u00a0", "─" * 40, "  ? for shortcuts"]
    )
    assert rig.feed(Submitted(message.message_id, pane)) == [
        MessageDone(message, "failed", "Claude Code says: Unknown command: /frobnicate"),
        SaveJournal(),
    ]
    assert rig.tracker.in_flight is None


def test_a_message_that_cannot_be_typed_fails_and_the_next_goes_on(rig: Rig) -> None:
    bad, good = rig.message("bad"), rig.message("good")
    rig.feed(Delivered(bad), Delivered(good))
    failed = rig.feed(Unsendable(bad.message_id, "attachment not saved"))
    assert failed == [MessageDone(bad, "failed", "attachment not saved"), SaveJournal()]
    assert rig.tracker.next_message() == good


def test_a_message_not_submitted_goes_back_to_the_front(rig: Rig) -> None:
    first = rig.type("first")
    later = rig.message("later")
    rig.feed(Delivered(later))
    assert rig.feed(NotSubmitted(first.message_id, "was not pasted")) == [SaveJournal(), Wake()]
    assert rig.tracker.in_flight is None and rig.tracker.next_message() == first
    assert rig.feed(NotSubmitted(first.message_id, "late")) == []  # not in flight any more


def test_typing_a_message_that_is_not_next_is_a_bug(rig: Rig) -> None:
    with pytest.raises(RuntimeError):
        rig.feed(Typing(42, "x", 0))


# -- the stale busy frame after a Stop ---------------------------------------------------------


def test_a_busy_frame_between_stop_and_the_idle_redraw_is_the_old_turns(rig: Rig) -> None:
    """Claude runs its Stop hooks before it redraws idle: the next message must not wait."""
    rig.submit("one")
    rig.screen(BUSY)
    rig.hook(Stop(last_assistant_message="1", prompt_id="p1"))
    waiting = rig.message("two")
    rig.feed(Delivered(waiting))
    assert rig.screen(BUSY) == []  # still idle: the old turn's frame
    assert rig.tracker.claude == "idle" and rig.tracker.next_message() == waiting
    rig.screen(IDLE)  # Claude has redrawn: the next busy frame is a new turn
    assert announced(rig.screen(BUSY)) == ["busy"]


def test_a_busy_frame_long_after_a_stop_counts(rig: Rig) -> None:
    """A Stop hook that blocks the stop makes Claude carry on: busy again after a while."""
    rig.submit("one")
    rig.hook(Stop(last_assistant_message="1", prompt_id="p1"))
    assert rig.screen(BUSY) == []
    rig.clock.advance(STOP_REDRAW)
    assert announced(rig.screen(BUSY)) == ["busy"]


# -- turns that end without a Stop --------------------------------------------------------------


def test_a_turn_that_ends_quietly_is_ended_by_the_transcript(rig: Rig) -> None:
    message = rig.submit("question")
    rig.screen(BUSY)
    rig.transcript.held.add("question")
    rig.transcript.answer = "half an answer"
    assert rig.screen(IDLE) == []  # idle from now on, and no Stop
    assert rig.wait(TURN_ENDED_QUIETLY - 0.1, IDLE) == []  # not yet
    actions = rig.wait(0.2, IDLE)
    assert actions == [
        EndTurn("half an answer", message_ids=(message.message_id,), interrupted=True),
        Announce("idle"),
    ]


def test_a_quiet_end_of_a_prompt_the_conversation_lacks_types_it_again(rig: Rig) -> None:
    """UserPromptSubmit fired, but Claude never saved the prompt: it is typed again."""
    message = rig.submit("lost")
    rig.screen(BUSY)
    actions = rig.wait(TURN_ENDED_QUIETLY + 0.2, IDLE)
    assert actions == [SaveJournal(), Wake(), Announce("idle")]
    assert rig.tracker.next_message() == message


def test_a_prompt_back_in_the_box_was_interrupted_in_the_terminal(rig: Rig) -> None:
    message = rig.submit("slow")
    rig.screen(BUSY)
    actions = rig.wait(TURN_ENDED_QUIETLY + 0.2, RESTORED)
    assert actions == [
        ClearInput(),
        EndTurn(INTERRUPTED, message_ids=(message.message_id,), interrupted=True),
        Announce("idle"),
    ]


def test_no_quiet_end_while_a_dialog_is_answered_or_the_channel_asked(rig: Rig) -> None:
    rig.submit("q")
    rig.screen(BUSY)
    for _ in range(50):
        rig.clock.advance(0.1)
        assert rig.screen(IDLE, answering=True) == []
    rig.feed(AskStarted("question"))
    assert rig.wait(TURN_ENDED_QUIETLY * 2, IDLE) == []
    assert rig.tracker.claude == "question"


# -- the channel answering for a hook, and dialogs ---------------------------------------------


def test_an_ask_holds_the_state_until_answered(rig: Rig) -> None:
    rig.submit("may I?")
    rig.screen(BUSY)
    assert rig.feed(AskStarted("permission")) == [Announce("permission")]
    assert rig.screen(PERMISSION) == [] and rig.screen(BUSY) == []
    assert rig.feed(AskEnded("permission")) == [Announce("busy")]


def test_an_ask_that_ends_after_the_stop_leaves_claude_idle(rig: Rig) -> None:
    rig.submit("may I?")
    rig.feed(AskStarted("permission"))
    stopped = rig.hook(Stop(last_assistant_message="", prompt_id="p1"))
    assert CancelChoices(("permission", "question"), "the turn ended") in stopped
    assert rig.feed(AskEnded("permission")) == []
    assert rig.tracker.claude == "idle"


def test_dialogs_on_screen_set_the_state_and_closing_them_resumes(rig: Rig) -> None:
    assert rig.screen(real("trust_dialog")) == [Announce("dialog")]
    assert rig.screen(IDLE) == [Announce("idle")]
    rig.submit("go")
    assert rig.screen(PERMISSION) == [Announce("permission")]
    assert rig.screen(real("question_single")) == [Announce("question")]
    assert rig.screen(IDLE) == [Announce("busy")]  # our prompt was taken: its turn goes on


def test_a_permission_denied_in_the_pane_ends_the_turn(rig: Rig) -> None:
    message = rig.submit("rm it")
    rig.screen(PERMISSION)
    assert rig.feed(PaneDenied()) == [WatchClosely()]
    assert rig.tracker.watching_closely
    actions = rig.screen(IDLE)
    assert ends(actions) == [EndTurn(DENIED, message_ids=(message.message_id,), interrupted=True)]
    assert not rig.tracker.watching_closely and rig.tracker.claude == "idle"


def test_a_denial_whose_screen_never_goes_idle_is_dropped(rig: Rig) -> None:
    rig.submit("rm it")
    rig.screen(PERMISSION)
    rig.feed(PaneDenied())
    assert ends(rig.wait(6.0, PERMISSION)) == []
    assert not rig.tracker.watching_closely


# -- interrupts ---------------------------------------------------------------------------------


def test_an_interrupt_presses_escape_and_ends_the_turn_once_claude_stays_stopped(rig: Rig) -> None:
    message = rig.submit("slow")
    rig.screen(BUSY)
    assert rig.feed(InterruptRequested(BUSY)) == [WatchClosely(), ESCAPE]
    assert rig.screen(BUSY) == []
    assert rig.screen(RESTORED) == []  # stopped, but it must stay stopped
    rig.transcript.answer = "so far"
    actions = rig.wait(STAYS_STOPPED, RESTORED)
    assert actions == [
        CancelChoices(("permission", "question"), "interrupted"),
        ClearInput(),
        EndTurn(f"so far\n\n{INTERRUPTED}", message_ids=(message.message_id,), interrupted=True),
        Announce("idle"),
    ]
    assert not rig.tracker.watching_closely


def test_an_interrupt_waits_for_claude_to_draw_the_turn(rig: Rig) -> None:
    """An Escape before the busy frame is dropped by the CLI and the turn carries on."""
    rig.submit("slow")  # taken, but the screen still shows the idle box
    assert rig.feed(InterruptRequested(IDLE)) == [WatchClosely()]
    assert rig.wait(1.0, IDLE) == []
    assert rig.screen(BUSY) == [ESCAPE]


def test_an_interrupt_with_no_turn_drawn_in_time_does_nothing(rig: Rig) -> None:
    rig.submit("slow")
    rig.feed(InterruptRequested(IDLE))
    assert rig.wait(TURN_DRAWN + 0.1, IDLE) == []
    assert not rig.tracker.watching_closely and rig.tracker.in_flight is not None


def test_nothing_to_interrupt_when_claude_is_idle(rig: Rig) -> None:
    assert rig.feed(InterruptRequested(IDLE)) == []
    assert not rig.tracker.watching_closely


def test_escape_again_when_claude_carries_on(rig: Rig) -> None:
    rig.submit("slow")
    rig.feed(InterruptRequested(BUSY))
    rig.screen(IDLE)
    rig.clock.advance(STAYS_STOPPED / 2)
    assert rig.screen(BUSY) == [ESCAPE]  # a relapse: pressed again
    assert ends(rig.screen(IDLE) + rig.wait(STAYS_STOPPED, IDLE))[0].interrupted


def test_an_interrupt_gives_up_after_four_escapes(rig: Rig) -> None:
    rig.submit("stubborn")
    assert rig.feed(InterruptRequested(BUSY)) == [WatchClosely(), ESCAPE]
    actions = rig.wait(STOP_WAIT * 5, BUSY)
    assert only(PressKey, actions) == [ESCAPE] * 3
    # A question held in its PreToolUse hook holds Claude too: let go after the second.
    assert only(CancelChoices, actions) == [
        CancelChoices(("question",), "interrupted"),
        CancelChoices(("permission", "question"), "interrupted"),
    ]
    assert ends(actions) == [] and not rig.tracker.watching_closely


def test_escape_waits_for_a_fresh_dialog_to_stand_still(rig: Rig) -> None:
    """A dialog re-renders just after it shows and drops keys pressed before that."""
    rig.submit("rm it")
    rig.screen(BUSY)
    rig.screen(PERMISSION)
    assert rig.feed(InterruptRequested(PERMISSION)) == [WatchClosely()]
    assert rig.wait(0.2, PERMISSION) == []
    assert rig.wait(0.2, PERMISSION) == [ESCAPE]


def test_a_second_interrupt_while_one_runs_is_ignored(rig: Rig) -> None:
    rig.submit("slow")
    rig.feed(InterruptRequested(BUSY))
    assert rig.feed(InterruptRequested(BUSY)) == []


# -- restarts -----------------------------------------------------------------------------------


def test_after_a_restart_a_held_prompt_is_delivered_not_retyped() -> None:
    queue = PromptQueue()
    rig = Rig(queue)
    message = rig.message("taken")
    queue.restore(InFlight(message=message, text="taken", transcript_offset=5), finished=[])
    rig.transcript.held.add("taken")
    assert rig.ready() == [
        Announce("idle"),
        EndTurn("", message_ids=(message.message_id,), interrupted=True),
        Wake(),
    ]


def test_after_a_restart_a_prompt_claude_never_had_is_typed_again() -> None:
    queue = PromptQueue()
    rig = Rig(queue)
    message = rig.message("lost")
    in_flight = InFlight(message=message, text="lost", transcript_offset=5, submitted=True)
    queue.restore(in_flight, finished=[])
    assert rig.ready() == [Announce("idle"), SaveJournal(), Wake()]
    assert rig.tracker.next_message() == message


def test_after_a_restart_a_running_turn_is_left_to_its_stop() -> None:
    queue = PromptQueue()
    rig = Rig(queue)
    message = rig.message("running")
    queue.restore(InFlight(message=message, text="running", transcript_offset=5), finished=[])
    assert rig.ready(BUSY) == [Announce("busy")]
    rig.transcript.held.add("running")
    assert ends(rig.hook(Stop(last_assistant_message="done", prompt_id="p"))) == [
        EndTurn("done", turn_id="p", message_ids=(message.message_id,))
    ]


def test_a_dead_claude_stays_dead_until_it_is_ready_again(rig: Rig) -> None:
    rig.submit("crash")
    assert rig.feed(PaneDied(4242)) == [
        CancelChoices(("permission", "question"), "Claude exited"),
        Announce("dead", 4242),
    ]
    late = rig.hook(Stop(last_assistant_message="", prompt_id="p1"))  # fired as it died
    assert announced(late) == [] and rig.tracker.claude == "dead"
    assert rig.screen(IDLE) == [] and rig.feed(InterruptRequested(BUSY)) == []
    assert rig.ready() == [Announce("idle")]


def test_the_dialog_at_start_is_a_state_too() -> None:
    rig = Rig()
    assert rig.ready(real("api_key_dialog")) == [Announce("dialog")]
    with pytest.raises(ValueError):
        Rig().ready(real("after_exit"))


# -- the tables and the hooks nobody knows --------------------------------------------------


def test_illegal_transitions_raise() -> None:
    check_claude("idle", "busy", "ok")
    for old, new in (("idle", "starting"), ("busy", "unknown"), ("dead", "starting")):
        with pytest.raises(IllegalTransition):
            check_claude(old, new, "test")  # type: ignore[arg-type]
    check_stage(1, "typing", "accepted")
    for old, new in (("answered", "queued"), ("queued", "accepted"), ("typing", "denied")):
        with pytest.raises(IllegalTransition):
            check_stage(1, old, new)  # type: ignore[arg-type]


def test_an_unknown_hook_event_changes_nothing(rig: Rig) -> None:
    rig.submit("x")
    assert rig.hook(OtherHook(hook_event_name="StopFailure")) == []
    assert rig.tracker.claude == "busy" and rig.tracker.in_flight is not None
