"""The switchboard's routing, message in -> (destination, message) pairs out.

No sockets, no event loop, no processes: the real inbox on a temp SQLite file is the only
part besides the switchboard (persisting before acking is the rule under test).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

import msgspec
import pytest

from vai.protocol.messages import (
    Author,
    ChatMessage,
    ChoiceAnswer,
    ChoiceRequest,
    ClaudeStatus,
    Deliver,
    DeliveryUpdate,
    GatewayHello,
    GatewayProblem,
    Heartbeat,
    Inbound,
    InboundAck,
    Interrupt,
    PanePost,
    PostReply,
    PromptProgress,
    ReplyPosted,
    SessionMap,
    ToolProgress,
    TurnAck,
    TurnEnded,
    Typing,
    WorkerHello,
)
from vai.supervisor.config import DiscordSection, SessionDiscord
from vai.supervisor.inbox import Inbox
from vai.supervisor.switchboard import GATEWAY, Send, Switchboard, Worker
from vai.supervisor.texts import LOST_ANSWER

CHANNEL_1 = 1001
CHANNEL_2 = 1002
_ids = itertools.count(5000)


def chat(channel: int = CHANNEL_1, text: str = "hi") -> ChatMessage:
    return ChatMessage(
        message_id=next(_ids), channel_id=channel, author=Author(id=7, name="ann"), content=text
    )


def inbound(session: int, message: ChatMessage, seq: int = 1) -> Inbound:
    return Inbound(seq=seq, session=session, message=message)


class Observer:
    """Records what the switchboard tells the monitor."""

    def __init__(self) -> None:
        self.events: list[tuple[str, int, object]] = []

    def prompt_accepted(self, session: int, message_id: int) -> None:
        self.events.append(("accepted", session, message_id))

    def turn_ended(self, session: int, message_ids: list[int]) -> None:
        self.events.append(("ended", session, list(message_ids)))

    def pane_seen(self, session: int, pane_pid: int | None) -> None:
        self.events.append(("pane", session, pane_pid))


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[Inbox]:
    store = Inbox(tmp_path / "inbox.sqlite3")
    yield store
    store.close()


@pytest.fixture
def observer() -> Observer:
    return Observer()


def board(
    inbox: Inbox, observer: Observer | None = None, discord: DiscordSection | None = None
) -> Switchboard:
    switchboard = Switchboard(inbox, discord or DiscordSection(), observer)
    switchboard.add_session(1, CHANNEL_1)
    switchboard.add_session(2, CHANNEL_2)
    return switchboard


def connected(switchboard: Switchboard, *sessions: int) -> Switchboard:
    """The gateway and the given workers said hello (workers READY, backlog sent)."""
    switchboard.from_gateway(GatewayHello(pid=1))
    for session in sessions:
        switchboard.from_worker(session, WorkerHello(session=session, pid=2, ready=True))
    return switchboard


def types(sends: Iterable[Send]) -> list[tuple[object, str]]:
    return [(destination, type(message).__name__) for destination, message in sends]


# -- from the gateway ----------------------------------------------------------------------------


def test_a_message_is_committed_before_its_ack_and_delivered_to_a_ready_worker(
    tmp_path: Path, inbox: Inbox
) -> None:
    switchboard = connected(board(inbox), 1)
    message = chat()
    sends = switchboard.inbound([inbound(1, message, seq=7)])
    assert sends == [
        (GATEWAY, InboundAck(seq=7, message_id=message.message_id)),
        (Worker(1), Deliver(message=message)),
    ]
    # Committed when the ack exists: another connection to the file sees it.
    other = Inbox(tmp_path / "inbox.sqlite3")
    try:
        assert other.open_messages(1) == [(message, "received")]
    finally:
        other.close()


class FullInbox(Inbox):
    """An inbox whose disk is full: nothing can be stored."""

    def add_messages(self, items: Iterable[tuple[int, ChatMessage]]) -> list[bool]:
        raise OSError("disk full")


def test_nothing_is_acked_when_storing_fails(tmp_path: Path) -> None:
    full = FullInbox(tmp_path / "full.sqlite3")
    try:
        switchboard = connected(board(full), 1)
        with pytest.raises(OSError):
            switchboard.inbound([inbound(1, chat())])  # no pairs: no ack can be sent
    finally:
        full.close()


def test_a_batch_is_acked_in_order_and_a_duplicate_is_delivered_once(inbox: Inbox) -> None:
    switchboard = connected(board(inbox), 1, 2)
    first, second = chat(CHANNEL_1, "a"), chat(CHANNEL_2, "b")
    sends = switchboard.inbound([inbound(1, first, 1), inbound(2, second, 2)])
    assert sends == [
        (GATEWAY, InboundAck(seq=1, message_id=first.message_id)),
        (GATEWAY, InboundAck(seq=2, message_id=second.message_id)),
        (Worker(1), Deliver(message=first)),
        (Worker(2), Deliver(message=second)),
    ]
    again = switchboard.from_gateway(inbound(1, first, 3))  # the gateway resent it
    assert again == [(GATEWAY, InboundAck(seq=3, message_id=first.message_id))]
    assert inbox.queued(1) == 1


def test_a_worker_not_ready_gets_its_backlog_in_order_at_ready_then_live_messages(
    inbox: Inbox,
) -> None:
    switchboard = connected(board(inbox))
    early = [chat(text=f"early {n}") for n in range(3)]
    sends = switchboard.inbound([inbound(1, m, n) for n, m in enumerate(early)])
    assert types(sends) == [(GATEWAY, "InboundAck")] * 3  # nobody to deliver to yet
    hello = switchboard.from_worker(1, WorkerHello(session=1, pid=3, ready=False))
    assert hello == []  # connected, not ready: still nothing
    assert switchboard.peer(1).connected and not switchboard.peer(1).taking_messages
    ready = switchboard.from_worker(1, WorkerHello(session=1, pid=3, ready=True))
    assert ready == [(Worker(1), Deliver(message=m)) for m in early]
    live = chat(text="live")
    assert switchboard.inbound([inbound(1, live, 9)])[-1] == (Worker(1), Deliver(message=live))


def test_a_worker_that_is_gone_gets_nothing_until_it_is_ready_again(inbox: Inbox) -> None:
    switchboard = connected(board(inbox), 1)
    switchboard.peer_gone(1)
    message = chat()
    assert types(switchboard.inbound([inbound(1, message)])) == [(GATEWAY, "InboundAck")]
    assert switchboard.interrupt(1) == []
    restarted = switchboard.from_worker(1, WorkerHello(session=1, pid=4, ready=True))
    assert restarted == [(Worker(1), Deliver(message=message))]
    assert switchboard.interrupt(1) == [(Worker(1), Interrupt())]


def test_a_message_reaches_a_session_only_from_its_channel(inbox: Inbox) -> None:
    switchboard = connected(board(inbox), 1, 2)
    # Sent for session 2 before it was removed and its number given to another channel.
    stale = chat(CHANNEL_2)
    switchboard.remove_session(2)
    switchboard.add_session(2, 3003)
    switchboard.from_worker(2, WorkerHello(session=2, pid=5, ready=True))
    sends = switchboard.inbound([inbound(2, stale, 4)])
    assert sends == [(GATEWAY, InboundAck(seq=4, message_id=stale.message_id))]
    assert inbox.queued(2) == 0
    # A session that does not exist, and a mapped channel addressed to the wrong session.
    assert types(switchboard.inbound([inbound(9, chat(CHANNEL_1))])) == [(GATEWAY, "InboundAck")]
    assert types(switchboard.inbound([inbound(1, chat(3003))])) == [(GATEWAY, "InboundAck")]


def test_unmapped_channels_reach_the_default_session_when_configured(inbox: Inbox) -> None:
    discord = DiscordSection(route_unmapped="default", default_session=1)
    switchboard = connected(board(inbox, discord=discord), 1)
    elsewhere = chat(424242)
    assert (Worker(1), Deliver(message=elsewhere)) in switchboard.inbound([inbound(1, elsewhere)])
    mapped_elsewhere = chat(CHANNEL_2)  # session 2's channel is no default traffic
    assert types(switchboard.inbound([inbound(1, mapped_elsewhere)])) == [(GATEWAY, "InboundAck")]


def test_gateway_hello_sends_the_map_unposted_replies_and_open_choices(inbox: Inbox) -> None:
    discord = DiscordSection(sessions={"2": SessionDiscord(allowed_users=[42])})
    switchboard = board(inbox, discord=discord)
    switchboard.from_worker(1, WorkerHello(session=1, pid=2, ready=True))
    turn = TurnEnded(session=1, turn_id="t1", text="an answer")
    assert switchboard.from_worker(1, turn) == [(Worker(1), TurnAck(turn_id="t1"))]
    choice = ChoiceRequest(request_id="q1", session=1, kind="question", text="?", options=["a"])
    assert switchboard.from_worker(1, choice) == []  # no gateway: kept for its hello
    hello = switchboard.from_gateway(GatewayHello(pid=1))
    assert types(hello) == [
        (GATEWAY, "SessionMap"),
        (GATEWAY, "PostReply"),
        (GATEWAY, "ChoiceRequest"),
    ]
    session_map = hello[0][1]
    assert isinstance(session_map, SessionMap)
    routes = {r.session: r for r in session_map.routes}
    assert routes[1].channel_id == CHANNEL_1 and routes[1].allowed_users is None
    assert routes[2].allowed_users == (42,)
    reply = hello[1][1]
    assert isinstance(reply, PostReply) and reply.text == "an answer"
    assert switchboard.from_gateway(ReplyPosted(reply_id=reply.reply_id)) == []
    again = switchboard.from_gateway(GatewayHello(pid=1))
    assert types(again) == [(GATEWAY, "SessionMap"), (GATEWAY, "ChoiceRequest")]


def test_gateway_problems_are_kept_until_cleared_or_a_new_gateway(inbox: Inbox) -> None:
    switchboard = connected(board(inbox))
    switchboard.from_gateway(GatewayProblem(text="token refused", fatal=True))
    switchboard.from_gateway(GatewayProblem(text="cannot see the channel", channel_id=CHANNEL_1))
    assert switchboard.gateway_problems == {0: "token refused", CHANNEL_1: "cannot see the channel"}
    switchboard.from_gateway(GatewayProblem(text="", channel_id=CHANNEL_1))
    assert switchboard.gateway_problems == {0: "token refused"}
    switchboard.from_gateway(GatewayHello(pid=2))
    assert switchboard.gateway_problems == {}
    assert switchboard.from_gateway(Heartbeat(pid=2)) == []


def test_an_answer_goes_to_its_session_and_closes_the_choice(inbox: Inbox) -> None:
    switchboard = connected(board(inbox), 1)
    choice = ChoiceRequest(request_id="q1", session=1, kind="permission", text="ok?", options=["y"])
    offered = switchboard.from_worker(1, choice)
    assert offered == [(GATEWAY, msgspec.structs.replace(choice, channel_id=CHANNEL_1))]
    answer = ChoiceAnswer(request_id="q1", session=1, option="y")
    assert switchboard.from_gateway(answer) == [(Worker(1), answer)]
    assert types(switchboard.from_gateway(GatewayHello(pid=1))) == [(GATEWAY, "SessionMap")]
    # To a session whose worker is not connected: nowhere to go.
    assert switchboard.from_gateway(ChoiceAnswer(request_id="q2", session=2, option="y")) == []


# -- from a worker -----------------------------------------------------------------------------


def test_a_worker_speaks_only_for_its_own_session(inbox: Inbox, observer: Observer) -> None:
    switchboard = connected(board(inbox, observer), 1, 2)
    message = chat(CHANNEL_2)
    switchboard.inbound([inbound(2, message)])
    forged = TurnEnded(session=2, turn_id="t", text="not mine", message_ids=[message.message_id])
    assert switchboard.from_worker(1, forged) == []
    assert switchboard.from_worker(1, ClaudeStatus(session=2, state="busy")) == []
    assert inbox.open_messages(2) == [(message, "received")]  # untouched
    assert inbox.unposted_replies() == [] and observer.events == []
    # A worker of a session that no longer exists is not heard either.
    switchboard.remove_session(2)
    assert switchboard.from_worker(2, TurnEnded(session=2, turn_id="u", text="late")) == []


def test_a_turn_end_is_stored_then_answered_then_acked(inbox: Inbox, observer: Observer) -> None:
    switchboard = connected(board(inbox, observer), 1)
    message = chat()
    switchboard.inbound([inbound(1, message)])
    update = DeliveryUpdate(session=1, message_id=message.message_id, stage="accepted")
    assert switchboard.from_worker(1, update) == [
        (
            GATEWAY,
            PromptProgress(channel_id=CHANNEL_1, message_id=message.message_id, stage="accepted"),
        )
    ]
    turn = TurnEnded(session=1, turn_id="t9", text="done!", message_ids=[message.message_id])
    sends = switchboard.from_worker(1, turn)
    assert types(sends) == [(GATEWAY, "PostReply"), (Worker(1), "TurnAck")]
    reply = sends[0][1]
    assert isinstance(reply, PostReply)
    assert (reply.channel_id, reply.text, reply.reference_message_id) == (
        CHANNEL_1,
        "done!",
        message.message_id,
    )
    assert inbox.unposted_replies() == [reply] and inbox.queued(1) == 0
    # The worker did not get the ack and says it again: acked again, answered once.
    assert switchboard.from_worker(1, turn) == [(Worker(1), TurnAck(turn_id="t9"))]
    assert observer.events[0] == ("accepted", 1, message.message_id)
    assert observer.events[1] == ("ended", 1, [message.message_id])


def test_an_interrupted_turn_without_text_says_the_answer_was_lost(inbox: Inbox) -> None:
    switchboard = connected(board(inbox), 1)
    sends = switchboard.from_worker(1, TurnEnded(session=1, turn_id="t", text="", interrupted=True))
    reply = sends[0][1]
    assert isinstance(reply, PostReply) and reply.text == LOST_ANSWER
    quiet = switchboard.from_worker(1, TurnEnded(session=1, turn_id="u", text="  "))
    assert quiet == [(Worker(1), TurnAck(turn_id="u"))]  # nothing to say: only the ack


FAILURE = "API Error: 529 Overloaded."


def stage(inbox: Inbox, message_id: int) -> str:
    row = inbox._db.execute("SELECT stage FROM inbound WHERE message_id = ?", (message_id,))
    return str(row.fetchone()[0])


def test_a_failed_turn_marks_its_message_failed_not_done(inbox: Inbox, observer: Observer) -> None:
    switchboard = connected(board(inbox, observer), 1)
    message = chat()
    switchboard.inbound([inbound(1, message)])
    ids = [message.message_id]
    turn = TurnEnded(session=1, turn_id="t1", text="", message_ids=ids, failure=FAILURE)
    sends = switchboard.from_worker(1, turn)
    assert types(sends) == [
        (GATEWAY, "PromptProgress"),
        (GATEWAY, "PostReply"),
        (Worker(1), "TurnAck"),
    ]
    assert sends[0][1] == PromptProgress(
        channel_id=CHANNEL_1, message_id=message.message_id, stage="failed", turn_failed=True
    )
    reply = sends[1][1]
    assert (
        isinstance(reply, PostReply)
        and reply.text == "❌ Claude could not finish this turn: " + FAILURE
    )
    assert stage(inbox, message.message_id) == "failed" and inbox.queued(1) == 0
    # Said again (no ack reached the worker): acked, nothing posted or marked twice.
    assert switchboard.from_worker(1, turn) == [(Worker(1), TurnAck(turn_id="t1"))]


def test_typing_follows_claude_state_changes(inbox: Inbox, observer: Observer) -> None:
    switchboard = connected(board(inbox, observer), 1)
    busy = switchboard.from_worker(1, ClaudeStatus(session=1, state="busy", pane_pid=77))
    assert busy == [(GATEWAY, Typing(channel_id=CHANNEL_1, active=True))]
    assert switchboard.from_worker(1, ClaudeStatus(session=1, state="busy")) == []
    waiting = switchboard.from_worker(1, ClaudeStatus(session=1, state="permission"))
    assert waiting == [(GATEWAY, Typing(channel_id=CHANNEL_1, active=False))]
    assert switchboard.peer(1).claude_state == "permission"
    assert ("pane", 1, 77) in observer.events


def test_tool_progress_is_addressed_to_the_sessions_channel(inbox: Inbox) -> None:
    switchboard = connected(board(inbox), 2)
    progress = ToolProgress(session=2, turn_id="t", tool_name="Bash", summary="ls")
    [(destination, sent)] = switchboard.from_worker(2, progress)
    assert destination == GATEWAY and isinstance(sent, ToolProgress)
    assert sent.channel_id == CHANNEL_2


# -- the session map and the operator's messages ---------------------------------------------


def test_removing_a_session_forgets_its_peer_and_choices_and_updates_the_map(
    inbox: Inbox,
) -> None:
    switchboard = connected(board(inbox), 1, 2)
    choice = ChoiceRequest(request_id="q", session=2, kind="question", text="?", options=["a"])
    switchboard.from_worker(2, choice)
    [(destination, session_map)] = switchboard.remove_session(2)
    assert destination == GATEWAY and isinstance(session_map, SessionMap)
    assert [r.session for r in session_map.routes] == [1]
    assert dict(switchboard.sessions()) == {1: CHANNEL_1}
    assert not switchboard.peer(2).connected
    switchboard.add_session(2, 3003)  # the number again, another channel
    assert types(switchboard.from_gateway(GatewayHello(pid=1))) == [(GATEWAY, "SessionMap")]


def test_alerts_and_posts_are_stored_first_and_sent_when_the_gateway_is_there(
    inbox: Inbox,
) -> None:
    switchboard = board(inbox)
    assert switchboard.alert(1, "Session 1 stopped") == []
    assert switchboard.alert(9, "no such session") == []
    post = PostReply(reply_id="dp-1", channel_id=CHANNEL_2, text="from dp")
    assert switchboard.post(post) == []
    stored = inbox.unposted_replies()
    assert [r.text for r in stored] == ["⚠️ Session 1 stopped", "from dp"]
    switchboard.from_gateway(GatewayHello(pid=1))
    ok = switchboard.alert(1, "Session 1 recovered", icon="✅")
    [(destination, reply)] = ok
    assert destination == GATEWAY and isinstance(reply, PostReply)
    assert (reply.channel_id, reply.text) == (CHANNEL_1, "✅ Session 1 recovered")
    assert switchboard.post(PostReply(reply_id="dp-2", channel_id=1, text="x"))[0][0] == GATEWAY


def test_a_panes_dp_goes_to_its_own_sessions_channel_and_is_stored(inbox: Inbox) -> None:
    switchboard = connected(board(inbox), 1, 2)
    post = PanePost(session=2, post_id="p1", text="from pane 2", file_path="/state/f.txt")
    sends = switchboard.from_worker(2, post)
    reply = PostReply(
        reply_id="pane-2-p1", channel_id=CHANNEL_2, text="from pane 2", file_path="/state/f.txt"
    )
    assert sends == [(GATEWAY, reply)]
    assert inbox.unposted_replies() == [reply]
    # Worker 1 cannot post as session 2 (and a pane never names a channel at all).
    assert switchboard.from_worker(1, msgspec.structs.replace(post, post_id="p2")) == []
    assert [r.reply_id for r in inbox.unposted_replies()] == ["pane-2-p1"]


# -- every peer speaks only for itself ----------------------------------------------------------


def test_an_answer_is_taken_only_for_an_open_request_of_its_session(
    inbox: Inbox, caplog: pytest.LogCaptureFixture
) -> None:
    switchboard = connected(board(inbox), 1, 2)
    asked = ChoiceRequest(request_id="s1-q", session=1, kind="permission", text="?", options=["y"])
    switchboard.from_worker(1, asked)
    # Never relayed: nothing reaches a worker, whatever session it names.
    never = ChoiceAnswer(request_id="s2-made-up", session=2, option="y")
    assert switchboard.from_gateway(never) == []
    # Session 1's request, answered in session 2's name: refused, and still open.
    wrong = ChoiceAnswer(request_id="s1-q", session=2, option="y")
    assert switchboard.from_gateway(wrong) == []
    assert "no such open request" in caplog.text and "that request is session 1's" in caplog.text
    right = ChoiceAnswer(request_id="s1-q", session=1, option="y")
    assert switchboard.from_gateway(right) == [(Worker(1), right)]
    assert switchboard.from_gateway(right) == []  # answered: closed


def test_a_worker_cannot_take_another_sessions_request_id(inbox: Inbox) -> None:
    switchboard = connected(board(inbox), 1, 2)
    theirs = ChoiceRequest(request_id="q", session=2, kind="question", text="?", options=["a"])
    switchboard.from_worker(2, theirs)
    mine = msgspec.structs.replace(theirs, session=1, text="hijack")
    assert switchboard.from_worker(1, mine) == []
    answer = ChoiceAnswer(request_id="q", session=2, option="a")
    assert switchboard.from_gateway(answer) == [(Worker(2), answer)]


def test_a_worker_names_only_its_own_messages(inbox: Inbox, observer: Observer) -> None:
    switchboard = connected(board(inbox, observer), 1, 2)
    own, other = chat(CHANNEL_1, "mine"), chat(CHANNEL_2, "theirs")
    switchboard.inbound([inbound(1, own, 1), inbound(2, other, 2)])
    stolen = DeliveryUpdate(session=1, message_id=other.message_id, stage="accepted")
    assert switchboard.from_worker(1, stolen) == []
    made_up = DeliveryUpdate(session=1, message_id=424242, stage="failed")
    assert switchboard.from_worker(1, made_up) == []
    turn = TurnEnded(
        session=1, turn_id="t", text="ok", message_ids=[own.message_id, other.message_id]
    )
    sends = switchboard.from_worker(1, turn)
    assert types(sends) == [(GATEWAY, "PostReply"), (Worker(1), "TurnAck")]
    reply = sends[0][1]
    assert isinstance(reply, PostReply) and reply.reference_message_id == own.message_id
    assert inbox.queued(1) == 0
    assert inbox.open_messages(2) == [(other, "received")]  # untouched
    assert observer.events == [("ended", 1, [own.message_id])]
