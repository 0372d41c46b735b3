"""A worker's choice may ping only someone whose message its session holds open.

The switchboard with the real inbox on a temp SQLite file: the worker names a user in
ChoiceRequest.mention_user_id; the request reaches the gateway naming them only when they
wrote one of that session's open messages, and without the name otherwise.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from vai.protocol.messages import (
    Author,
    ChatMessage,
    ChoiceAnswer,
    ChoiceRequest,
    ChoiceWithdrawn,
    GatewayHello,
    Inbound,
    TurnEnded,
    WorkerHello,
)
from vai.supervisor.config import DiscordSection
from vai.supervisor.inbox import Inbox
from vai.supervisor.switchboard import GATEWAY, Switchboard

ANN, BOB, BOT = Author(id=71, name="ann"), Author(id=72, name="bob"), Author(9, "b", bot=True)
_ids = itertools.count(9000)


@pytest.fixture
def switchboard(tmp_path: Path) -> Iterator[Switchboard]:
    inbox = Inbox(tmp_path / "inbox.sqlite3")
    board = Switchboard(inbox, DiscordSection())
    board.add_session(1, 1001)
    board.add_session(2, 1002)
    board.from_gateway(GatewayHello(pid=1))
    for session in (1, 2):
        board.from_worker(session, WorkerHello(session=session, pid=2, ready=True))
    yield board
    inbox.close()


def post(board: Switchboard, session: int, author: Author) -> ChatMessage:
    message = ChatMessage(
        message_id=next(_ids), channel_id=1000 + session, author=author, content="hi"
    )
    board.inbound([Inbound(seq=message.message_id, session=session, message=message)])
    return message


def relayed(board: Switchboard, session: int, user: int) -> int:
    """The mention the gateway gets for a choice naming `user` from `session`'s worker."""
    request = ChoiceRequest(
        request_id=f"s{session}-{next(_ids)}",
        session=session,
        kind="permission",
        text="Run `rm -rf /tmp/x` <@72> @everyone?",
        options=["Allow", "Deny"],
        mention_user_id=user,
    )
    sends = board.from_worker(session, request)
    assert len(sends) == 1 and sends[0][0] == GATEWAY  # the choice is asked either way
    sent = sends[0][1]
    assert isinstance(sent, ChoiceRequest) and sent.channel_id == 1000 + session
    return sent.mention_user_id


def test_the_author_of_an_open_message_of_the_session_is_kept(switchboard: Switchboard) -> None:
    post(switchboard, 1, ANN)
    assert relayed(switchboard, 1, ANN.id) == ANN.id


def test_anyone_else_is_dropped_and_logged(
    switchboard: Switchboard, caplog: pytest.LogCaptureFixture
) -> None:
    post(switchboard, 1, ANN)
    post(switchboard, 2, BOB)
    assert relayed(switchboard, 1, BOB.id) == 0  # another session's author
    assert "named user 72" in caplog.text
    assert relayed(switchboard, 1, 123456789) == 0  # nobody who wrote
    assert relayed(switchboard, 1, -5) == 0
    assert relayed(switchboard, 1, 2**64) == 0
    assert relayed(switchboard, 2, BOB.id) == BOB.id


def test_a_finished_message_or_a_bot_names_nobody(switchboard: Switchboard) -> None:
    done = post(switchboard, 1, ANN)
    turn = TurnEnded(session=1, turn_id="t", text="ok", message_ids=[done.message_id])
    switchboard.from_worker(1, turn)
    assert relayed(switchboard, 1, ANN.id) == 0  # its turn is over
    post(switchboard, 1, BOT)
    assert relayed(switchboard, 1, BOT.id) == 0


def test_no_mention_stays_no_mention(switchboard: Switchboard) -> None:
    post(switchboard, 1, ANN)
    assert relayed(switchboard, 1, 0) == 0


def test_a_worker_withdraws_only_its_own_open_request(switchboard: Switchboard) -> None:
    theirs = ChoiceRequest(request_id="s2-q", session=2, kind="question", text="?", options=["a"])
    switchboard.from_worker(2, theirs)
    stolen = ChoiceWithdrawn(request_id="s2-q", session=1, reason="hijack")
    assert switchboard.from_worker(1, stolen) == []
    assert switchboard.from_worker(1, ChoiceWithdrawn(request_id="never", session=1)) == []
    # Still open: a restarted gateway is offered it again.
    again = switchboard.from_gateway(GatewayHello(pid=3))
    assert [m.request_id for _, m in again if isinstance(m, ChoiceRequest)] == ["s2-q"]
    own = ChoiceWithdrawn(request_id="s2-q", session=2, reason="the turn ended")
    assert switchboard.from_worker(2, own) == [
        (GATEWAY, ChoiceWithdrawn(request_id="s2-q", session=2, channel_id=1002, reason=own.reason))
    ]
    assert switchboard.from_worker(2, own) == []  # closed: once only
    again = switchboard.from_gateway(GatewayHello(pid=4))
    assert not [m for _, m in again if isinstance(m, ChoiceRequest)]
    answer = ChoiceAnswer(request_id="s2-q", session=2, option="a")
    assert switchboard.from_gateway(answer) == []  # withdrawn: no answer reaches the worker
