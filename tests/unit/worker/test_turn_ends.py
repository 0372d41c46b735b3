"""Turns that fail (StopFailure), prompts the bridge did not type, and background work at
Stop: the tracker's rules (worker/turns/turn_ends.py, origins.py) with the real CLI's
payloads (tests/fixtures/real_screens/README.md, "Turns that fail")."""

from __future__ import annotations

import pytest

from tests.support.real_screens import FIXTURES
from tests.unit.worker.test_turns import BUSY, IDLE, Rig, announced, ends, only
from vai.protocol.hooks import Stop, StopFailure, UserPromptSubmit
from vai.worker.screen import read_screen
from vai.worker.turns.origins import failure_text, foreign_origin
from vai.worker.turns.states import IllegalTransition, check_claude
from vai.worker.turns.vocabulary import (
    Accepted,
    Announce,
    CancelChoices,
    Delivered,
    EndTurn,
    PromptTaken,
)

OVERLOADED = (
    "API Error: 529 Overloaded. This is a server-side issue, usually temporary — try again"
    " in a moment."
)
NOTIFICATION = (
    "<task-notification>\n<task-id>bm1d7h1c5</task-id>\n<status>completed</status>\n"
    '<summary>Background command "sleep" completed (exit code 0)</summary>\n</task-notification>'
)
PEER = '<cross-session-message from="builder">\nare the tests green?\n</cross-session-message>'
RUNNING = [{"id": "bm1d7h1c5", "type": "shell", "status": "running", "description": "sleep"}]


@pytest.fixture
def rig() -> Rig:
    rig = Rig()
    assert rig.ready() == [Announce("idle")]
    return rig


# -- StopFailure ------------------------------------------------------------------------------


def test_an_api_error_fails_the_turn_of_the_message_in_flight(rig: Rig) -> None:
    message = rig.submit("hello")
    failed = rig.hook(
        StopFailure(error="server_error", last_assistant_message=OVERLOADED, prompt_id="p1")
    )
    assert failed == [
        CancelChoices(("permission", "question"), "the turn ended"),
        EndTurn("", turn_id="p1", message_ids=(message.message_id,), failure=OVERLOADED),
        Announce("idle"),
    ]
    assert rig.tracker.in_flight is None
    # The box shows the CLI's placeholder, not text: the next message goes in.
    waiting = rig.message("again")
    rig.feed(Delivered(waiting))
    assert rig.tracker.next_message() == waiting


def test_a_failed_turn_that_was_not_ours_leaves_ours_in_flight(rig: Rig) -> None:
    rig.type("mine")  # in the box, not taken; the failed turn was typed by hand
    failed = rig.hook(StopFailure(error="rate_limit", prompt_id="h"))
    assert ends(failed) == [EndTurn("", turn_id="h", failure="rate limit")]
    assert rig.tracker.in_flight is not None


@pytest.mark.parametrize(
    ("hook", "said"),
    [
        (StopFailure(error="rate_limit", last_assistant_message=" Request rejected (429) "),
         "Request rejected (429)"),
        (StopFailure(error="invalid_request", error_details='400 {"type":"error"}'),
         '400 {"type":"error"}'),
        (StopFailure(error="server_error"), "server error"),
        (StopFailure(), "unknown error"),
    ],
)  # fmt: skip
def test_why_a_turn_failed_is_said_in_the_clis_words_first(hook: StopFailure, said: str) -> None:
    assert failure_text(hook) == said


@pytest.mark.parametrize(
    "placeholder", ["Resend your message to try again", "Once fixed, resend your message"]
)
def test_the_clis_placeholders_after_a_failure_are_not_text_in_the_box(placeholder: str) -> None:
    idle = (FIXTURES / "idle.txt").read_text()
    lines = idle.split("\n")
    box = next(i for i, line in enumerate(lines) if line.startswith("❯\u00a0"))
    lines[box] = "❯\u00a0" + placeholder
    screen = read_screen("\n".join(lines))
    assert (screen.state, screen.input_text) == ("idle", "")
    lines[box] = "❯\u00a0Resend your message to try again, please"  # a prompt, not the hint
    assert read_screen("\n".join(lines)).input_text.endswith("please")


# -- prompts the bridge did not type ----------------------------------------------------------


def test_another_sessions_message_is_posted_on_its_own_never_as_ours(rig: Rig) -> None:
    message = rig.type("are the tests green?")  # the same words, in our box, not yet taken
    started = rig.hook(UserPromptSubmit(prompt=PEER, prompt_id="x1"))
    assert started == [Announce("busy")]  # not accepted: no ✅, not the author's
    stopped = rig.hook(Stop(last_assistant_message="yes", prompt_id="x1"))
    origin = "a message from another Claude session (`builder`)"
    assert ends(stopped) == [EndTurn("yes", turn_id="x1", origin=origin)]
    in_flight = rig.tracker.in_flight
    assert in_flight is not None and in_flight.message == message and not in_flight.submitted


def test_a_foreign_turn_that_ends_while_ours_is_taken_does_not_finish_ours(rig: Rig) -> None:
    message = rig.type("mine")
    rig.hook(UserPromptSubmit(prompt=PEER, prompt_id="x1"))
    assert Accepted(message) in rig.hook(UserPromptSubmit(prompt="mine", prompt_id="p2"))
    rig.transcript.held.add("mine")
    assert ends(rig.hook(Stop(last_assistant_message="to builder", prompt_id="x1")))[0].origin
    assert rig.tracker.in_flight is not None
    done = rig.hook(Stop(last_assistant_message="to you", prompt_id="p2"))
    assert ends(done) == [EndTurn("to you", turn_id="p2", message_ids=(message.message_id,))]


def test_a_source_other_than_the_composer_is_never_ours(rig: Rig) -> None:
    rig.type("wake up")
    started = rig.hook(UserPromptSubmit(prompt="wake up", source="loop_wakeup", prompt_id="w"))
    assert only(Accepted, started) == [] and only(PromptTaken, started) == []
    assert ends(rig.hook(Stop(prompt_id="w")))[0].origin == "a /loop wakeup"


def test_our_own_message_is_ours_whatever_it_looks_like(rig: Rig) -> None:
    message = rig.type(PEER)  # a Discord user pasted a wrapper: typed by the bridge
    taken = rig.hook(UserPromptSubmit(prompt=PEER, prompt_id="p1"))
    assert Accepted(message) in taken


@pytest.mark.parametrize(
    ("prompt", "source", "origin"),
    [
        ("hi", "", ""),
        ("hi", "user", ""),
        (PEER, "", "a message from another Claude session (`builder`)"),
        ('<cross-session-message from="a" from-name="The `Builder`">\nx', "system",
         "a message from another Claude session (`The 'Builder'`)"),
        ("<cross-session-message>\nx", "", "a message from another Claude session"),
        (NOTIFICATION, "", "a background task Claude started has finished"),
        ("hi", "system", "Claude Code started this turn itself"),
        ("hi", "schedule_wakeup", "a scheduled task"),
        ("hi", "brand_new", "a prompt from `brand_new`"),
    ],
)  # fmt: skip
def test_where_a_prompt_came_from(prompt: str, source: str, origin: str) -> None:
    assert foreign_origin(UserPromptSubmit(prompt=prompt, source=source)) == origin


# -- background work at Stop ------------------------------------------------------------------


def test_a_stop_with_background_work_leaves_claude_working_in_background(rig: Rig) -> None:
    message = rig.submit("start the build")
    stopped = rig.hook(
        Stop(last_assistant_message="started", prompt_id="p1", background_tasks=RUNNING)
    )
    assert ends(stopped) == [EndTurn("started", turn_id="p1", message_ids=(message.message_id,))]
    assert announced(stopped) == ["background"]
    assert rig.screen(IDLE) == [] and rig.wait(5.0) == []  # idle screen: still background
    waiting = rig.message("meanwhile")
    rig.feed(Delivered(waiting))
    assert rig.tracker.next_message() == waiting  # a message may still be typed
    # The task ends: the CLI gives itself a <task-notification> turn; its Stop says all done.
    assert announced(rig.hook(UserPromptSubmit(prompt=NOTIFICATION, prompt_id="t1"))) == ["busy"]
    done = rig.hook(
        Stop(last_assistant_message="build passed", prompt_id="t1", background_tasks=[])
    )
    origin = "a background task Claude started has finished"
    assert ends(done) == [EndTurn("build passed", turn_id="t1", origin=origin)]
    assert announced(done) == ["idle"]


def test_a_busy_frame_just_after_a_background_stop_is_the_old_turns(rig: Rig) -> None:
    rig.submit("go")
    rig.hook(Stop(prompt_id="p1", background_tasks=RUNNING))
    assert rig.screen(BUSY) == []
    rig.clock.advance(11)
    assert announced(rig.screen(BUSY)) == ["busy"]


def test_background_is_left_only_for_a_turn_or_claudes_end() -> None:
    for new in ("idle", "busy", "permission", "question", "dialog", "dead"):
        check_claude("background", new, "test")
    with pytest.raises(IllegalTransition):
        check_claude("idle", "background", "a Stop comes only after a turn")
