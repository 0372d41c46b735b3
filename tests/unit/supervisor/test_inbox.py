"""The durable inbox and outbox on a temp SQLite file: durability, dedupe, stages, cursors,
replies, and forgetting a removed session."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from vai.protocol.messages import Author, ChatMessage, PostReply
from vai.supervisor.inbox import Inbox

_ids = itertools.count(100)


def chat(channel: int = 11, text: str = "hi") -> ChatMessage:
    return ChatMessage(
        message_id=next(_ids), channel_id=channel, author=Author(id=1, name="u"), content=text
    )


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "inbox.sqlite3"


@pytest.fixture
def inbox(path: Path) -> Iterator[Inbox]:
    store = Inbox(path)
    yield store
    store.close()


def test_a_batch_is_committed_when_the_call_returns(path: Path, inbox: Inbox) -> None:
    messages = [chat(text=str(n)) for n in range(3)]
    assert inbox.add_messages((1, m) for m in messages) == [True, True, True]
    other = sqlite3.connect(path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("SELECT COUNT(*) FROM inbound").fetchone()[0] == 3
    finally:
        other.close()
    assert path.parent.stat().st_mode & 0o077 == 0  # the state directory is private


def test_a_batch_is_all_or_nothing(inbox: Inbox) -> None:
    def items() -> Iterator[tuple[int, ChatMessage]]:
        yield 1, chat()
        raise RuntimeError("the loop pass broke")

    with pytest.raises(RuntimeError):
        inbox.add_messages(items())
    assert inbox.open_messages(1) == []


def test_duplicates_are_refused_and_order_is_arrival_order(inbox: Inbox) -> None:
    first, second = chat(text="first"), chat(text="second")
    assert inbox.add_messages([(1, first), (1, second), (1, first)]) == [True, True, False]
    assert inbox.add_messages([(2, second)]) == [False]  # one message, one session
    assert [m.content for m, _ in inbox.open_messages(1)] == ["first", "second"]
    assert inbox.open_messages(2) == []


def test_stages_only_move_forward(inbox: Inbox) -> None:
    message = chat()
    inbox.add_messages([(1, message)])
    number = message.message_id
    assert inbox.set_stage(number, "received") is False  # not a move
    assert inbox.set_stage(number, "accepted") is True
    assert inbox.set_stage(number, "accepted") is False
    assert inbox.open_messages(1) == [(message, "accepted")]
    assert inbox.queued(1) == 1
    assert inbox.set_stage(number, "done") is True
    assert inbox.set_stage(number, "failed") is False  # done is final
    assert inbox.set_stage(number, "accepted") is False
    assert inbox.queued(1) == 0 and inbox.open_messages(1) == []
    failing = chat()
    inbox.add_messages([(1, failing)])
    assert inbox.set_stage(failing.message_id, "failed") is True
    assert inbox.set_stage(123456789, "done") is False  # unknown message


def test_channel_of_and_catch_up_points(inbox: Inbox) -> None:
    message = chat(channel=22)
    inbox.add_messages([(1, message)])
    assert inbox.channel_of(message.message_id) == 22
    assert inbox.channel_of(1) is None
    inbox.start_cursor(22, 50)
    inbox.start_cursor(33, 10_000)
    inbox.start_cursor(33, 20_000)  # a channel's start is set once
    assert inbox.last_message_ids() == {22: message.message_id, 33: 10_000}


def test_replies_are_kept_until_posted_and_added_once(path: Path, inbox: Inbox) -> None:
    one = PostReply(reply_id="s1-t1", channel_id=11, text="one")
    two = PostReply(reply_id="s1-t2", channel_id=11, text="two")
    assert inbox.add_reply(one) is True
    assert inbox.add_reply(two) is True
    assert inbox.add_reply(one) is False
    assert inbox.unposted_replies() == [one, two]
    inbox.mark_posted("s1-t1")
    inbox.close()
    reopened = Inbox(path)  # and everything survives a restart
    try:
        assert reopened.unposted_replies() == [two]
    finally:
        reopened.close()


def test_forgetting_a_session_closes_its_messages_for_good(inbox: Inbox) -> None:
    waiting, working, finished = chat(11, "a"), chat(11, "b"), chat(11, "c")
    other = chat(22, "other session")
    inbox.add_messages([(1, finished), (1, working), (1, waiting), (2, other)])
    inbox.set_stage(finished.message_id, "done")
    inbox.set_stage(working.message_id, "accepted")
    inbox.start_cursor(11, 5)
    inbox.start_cursor(22, 6)
    assert inbox.forget_session(1, 11) == 2
    assert inbox.open_messages(1) == [] and inbox.queued(1) == 0
    assert inbox.open_messages(2) == [(other, "received")]
    for message in (waiting, working):
        assert inbox.set_stage(message.message_id, "accepted") is False  # never reopened
        assert inbox.set_stage(message.message_id, "done") is False
    assert inbox.add_messages([(1, waiting)]) == [False]  # still known: not stored again
    # The channel's catch-up point went: mapped again, it starts from its new start.
    inbox.start_cursor(11, 10**12)
    assert inbox.last_message_ids()[11] == 10**12
    assert inbox.last_message_ids()[22] == other.message_id
