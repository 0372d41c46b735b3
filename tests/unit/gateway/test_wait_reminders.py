""" "Waiting for you": whom a choice pings, when it reminds them (once), and what Discord
would notify for the allowed_mentions the gateway sends (the local Discord's rule)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.clock import FakeClock
from vai.gateway.choice_book import ChoiceBook
from vai.gateway.choices import pinged
from vai.gateway.local_discord.pings import pings
from vai.gateway.mentions import post_mentions
from vai.gateway.wait_reminders import KEEP_DONE, WaitReminders, reminder_delay
from vai.protocol.messages import ChoiceRequest

ANN = 4242


def request(**kw: Any) -> ChoiceRequest:
    base: dict[str, Any] = {
        "request_id": "s1-q",
        "session": 1,
        "kind": "permission",
        "text": "Bash: echo @everyone <@777> <@&888>",
        "options": ["Allow", "Deny"],
        "channel_id": 20,
        "timeout_s": 300.0,
        "mention_user_id": ANN,
    }
    return ChoiceRequest(**(base | kw))


@pytest.mark.parametrize(
    ("setting", "timeout", "delay"),
    [
        (150.0, 300.0, 150.0),  # the defaults: half-way
        (30.0, 300.0, 30.0),
        (0.0, 300.0, None),  # off
        (150.0, 60.0, 30.0),  # not before the expiry: half the timeout instead
        (60.0, 60.0, 30.0),
        (150.0, 0.0, None),
    ],
)
def test_the_reminder_comes_before_the_expiry_or_not_at_all(
    setting: float, timeout: float, delay: float | None
) -> None:
    assert reminder_delay(setting, timeout) == delay


def test_one_reminder_when_it_is_due_and_never_twice() -> None:
    clock = FakeClock(0.0)
    reminders = WaitReminders(clock)
    assert reminders.plan("a", 10.0) and reminders.plan("b", 5.0)
    assert not reminders.plan("a", 1.0)  # a re-offer keeps the first plan
    assert reminders.next_due() == 5.0
    clock.advance(4.9)
    assert reminders.due() == []
    clock.advance(10.0)
    assert reminders.due() == ["b", "a"]  # earliest first
    clock.advance(100.0)
    assert reminders.due() == [] and reminders.next_due() is None
    assert not reminders.plan("a", 1.0)  # reminded once: never planned again


def test_no_reminder_once_answered_expired_or_withdrawn() -> None:
    clock = FakeClock(0.0)
    reminders = WaitReminders(clock)
    reminders.plan("answered", 10.0)
    reminders.close("answered")
    assert not reminders.planned("answered") and reminders.next_due() is None
    clock.advance(60.0)
    assert reminders.due() == []
    assert not reminders.plan("answered", 10.0)
    assert not reminders.plan("off", None)  # reminders off: nothing planned
    assert reminders.due() == []


def test_finished_requests_are_remembered_within_a_bound() -> None:
    reminders = WaitReminders(FakeClock(0.0))
    for index in range(KEEP_DONE + 10):
        reminders.close(f"r{index}")
    assert not reminders.plan(f"r{KEEP_DONE + 9}", 1.0)
    assert reminders.plan("r0", 1.0)  # the oldest are forgotten


def test_the_choice_names_its_person_and_pings_only_them_while_open() -> None:
    book = ChoiceBook(FakeClock(0.0), wall=lambda: 1_000_000.0)
    choice, _ = book.offer(request())
    assert pinged(choice) == []  # the book alone mentions nobody: the gateway decides
    choice.mention = ANN
    content = ChoiceBook.content(choice)
    assert content.startswith(f"<@{ANN}> 🔐 **Claude asks for permission**")
    assert pinged(choice) == [ANN]
    reminder = ChoiceBook.reminder(choice)
    assert reminder.startswith(f"<@{ANN}> ⏳") and "<t:1000300:R>" in reminder
    book.expire(choice)
    assert pinged(choice) == []


def test_discord_notifies_only_the_allowed_user_whatever_the_text_says() -> None:
    content = f"<@{ANN}> asks: @everyone @here <@777> <@!778> <@&888>"
    sent = post_mentions(users=[ANN]).to_dict()
    notified = pings(content, sent, replied_author=999)
    assert notified.users == (ANN,)
    assert notified.roles == () and not notified.everyone
    assert not pings(content, post_mentions().to_dict()).anyone
    # The rule itself: no allowed_mentions at all notifies everything named.
    loose = pings(content, None, replied_author=999)
    assert loose.users == (ANN, 777, 778, 999) and loose.roles == (888,) and loose.everyone
    assert pings("hi", {"parse": [], "replied_user": True}, 999).users == (999,)


def test_a_withdrawn_choice_closes_with_its_reason_and_pings_nobody() -> None:
    book = ChoiceBook(FakeClock(0.0))
    choice, _ = book.offer(request())
    choice.mention = ANN
    ChoiceBook.withdraw(choice, "interrupted `now`")
    assert choice.closed and pinged(choice) == []
    assert ChoiceBook.content(choice).endswith("↩️ Claude no longer asks (interrupted 'now').")
    assert all(spec.disabled for spec in ChoiceBook.buttons(choice))
