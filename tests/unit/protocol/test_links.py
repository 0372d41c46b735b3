"""Each link decodes only what its sender may send; anything else is a ProtocolError."""

from __future__ import annotations

import msgspec
import pytest

from vai.protocol.codec import ProtocolError, encode
from vai.protocol.links import (
    CONTROL_REPLY,
    CONTROL_REQUEST,
    FROM_GATEWAY,
    FROM_WORKER,
    TO_GATEWAY,
    TO_WORKER,
    Link,
)
from vai.protocol.messages import (
    Author,
    ChatMessage,
    ChoiceAnswer,
    Deliver,
    Heartbeat,
    Inbound,
    OkReply,
    StatusRequest,
    TurnEnded,
    WireMessage,
)

CHAT = ChatMessage(message_id=1, channel_id=2, author=Author(id=3, name="a"), content="hi")


def test_each_link_takes_its_own_messages() -> None:
    inbound = Inbound(seq=1, session=1, message=CHAT)
    assert FROM_GATEWAY.decode(encode(inbound)) == inbound
    assert isinstance(
        FROM_WORKER.decode(encode(TurnEnded(session=1, turn_id="t", text=""))), TurnEnded
    )
    assert isinstance(TO_WORKER.decode(encode(Deliver(message=CHAT))), Deliver)
    assert isinstance(CONTROL_REQUEST.decode(encode(StatusRequest())), StatusRequest)
    assert isinstance(CONTROL_REPLY.decode(encode(OkReply(text="x"))), OkReply)
    for link in (FROM_GATEWAY, FROM_WORKER, TO_GATEWAY, TO_WORKER):
        assert isinstance(link.decode(encode(Heartbeat(pid=1))), Heartbeat)


@pytest.mark.parametrize(
    ("link", "message"),
    [
        (FROM_WORKER, Inbound(seq=1, session=1, message=CHAT)),  # a worker posing as the gateway
        (FROM_GATEWAY, TurnEnded(session=1, turn_id="t", text="forged answer")),
        (TO_WORKER, StatusRequest()),
        (CONTROL_REQUEST, ChoiceAnswer(request_id="r", session=1, option="Allow")),
        (CONTROL_REPLY, Deliver(message=CHAT)),
    ],
)
def test_a_message_of_another_link_is_refused(link: Link[object], message: WireMessage) -> None:
    with pytest.raises(ProtocolError, match="not a"):
        link.decode(encode(message))


def test_garbage_and_foreign_versions_are_refused() -> None:
    with pytest.raises(ProtocolError):
        FROM_WORKER.decode(b"\xff\x00garbage")
    foreign = msgspec.msgpack.encode({"type": "heartbeat", "pid": 1, "v": 99})
    with pytest.raises(ProtocolError, match="version 99"):
        FROM_WORKER.decode(foreign)
