"""The supervisor's real bus against peers that hold real keys but say what is not theirs.

The supervisor runs in-process (its bus, switchboard and inbox; no children are started):
the test admits a gateway and two workers as a spawn would, connects with their keys, and
plays a worker whose key is used against another session, and a gateway that answers
choices it was never offered. Each attempt is dropped with a log line naming it, and the
real traffic around it flows on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pytest
import zmq
import zmq.asyncio

from tests.support.tmux import TmuxServer
from vai.common.bus import dealer_socket
from vai.common.bus_auth import ClientKeys
from vai.protocol.codec import decode, encode
from vai.protocol.layout import ipc_endpoint
from vai.protocol.messages import (
    Author,
    ChatMessage,
    ChoiceAnswer,
    ChoiceRequest,
    Deliver,
    DeliveryUpdate,
    GatewayHello,
    Inbound,
    InboundAck,
    PromptProgress,
    SessionMap,
    WireMessage,
    WorkerHello,
)
from vai.supervisor.config import load_config
from vai.supervisor.server import Supervisor
from vai.supervisor.switchboard import GATEWAY, Worker

pytestmark = pytest.mark.timeout(60)
CHANNELS = {1: 100000000000000011, 2: 100000000000000022}


@dataclass
class Peer:
    """One connection to the supervisor's bus, recording what it is sent."""

    socket: zmq.asyncio.Socket
    received: list[WireMessage] = field(default_factory=list)

    async def send(self, message: WireMessage) -> None:
        await self.socket.send(encode(message))

    async def expect(self, accept: Callable[[WireMessage], bool], what: str) -> WireMessage:
        async with asyncio.timeout(10):
            while True:
                message = decode(await self.socket.recv())
                self.received.append(message)
                if accept(message):
                    return message


def chat(message_id: int, session: int) -> ChatMessage:
    author = Author(id=1, name="ann")
    return ChatMessage(message_id, CHANNELS[session], author, content="hi")


@contextlib.asynccontextmanager
async def supervisor_bus(home: Path) -> AsyncIterator[Supervisor]:
    home.mkdir()
    sessions = ", ".join(f'"{n}": "{c}"' for n, c in CHANNELS.items())
    (home / "sessions.json").write_text("{" + sessions + "}")
    supervisor = Supervisor(load_config())
    supervisor.prepare()
    supervisor.open_bus()
    task = asyncio.create_task(supervisor.serve_bus())
    try:
        yield supervisor
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        supervisor.close_bus()
        supervisor.inbox.close()
        supervisor.context.term()


def test_a_peer_with_a_real_key_still_speaks_only_for_itself(
    short_tmp: Path,
    tmux_server: TmuxServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name, value in {
        "VAI_HOME": str(short_tmp / "vai"),
        "DISCORD_BOT_TOKEN": "not-used",
        "VAI_CLAUDE_COMMAND": "true",
        "VAI_TMUX_SOCKET": tmux_server.socket_name,
    }.items():
        monkeypatch.setenv(name, value)
    caplog.set_level(logging.WARNING, "supervisor")

    def logged(text: str) -> bool:
        return any(text in r.getMessage() for r in caplog.records)

    async def until_logged(text: str) -> None:
        async with asyncio.timeout(10):
            while not logged(text):
                await asyncio.sleep(0.02)

    async def scenario() -> None:
        async with supervisor_bus(short_tmp / "vai") as supervisor:
            context = zmq.asyncio.Context()
            endpoint = ipc_endpoint(supervisor.layout.bus_socket)

            def connect(keys: ClientKeys) -> Peer:
                return Peer(dealer_socket(context, endpoint, keys))

            gateway = connect(supervisor.bus.admit(GATEWAY))
            worker_1_keys = supervisor.bus.admit(Worker(1))
            worker_1, worker_2 = connect(worker_1_keys), connect(supervisor.bus.admit(Worker(2)))
            peers = [gateway, worker_1, worker_2]
            try:
                await gateway.send(GatewayHello(pid=os.getpid()))
                await gateway.expect(lambda m: isinstance(m, SessionMap), "the session map")
                for session, worker in ((1, worker_1), (2, worker_2)):
                    await worker.send(WorkerHello(session=session, pid=os.getpid(), ready=True))
                mine = ChatMessage(
                    message_id=11,
                    channel_id=CHANNELS[1],
                    author=Author(id=1, name="a"),
                    content="x",
                )
                await gateway.send(Inbound(seq=1, session=1, message=mine))
                await gateway.expect(lambda m: isinstance(m, InboundAck), "the ack")
                await worker_1.expect(lambda m: isinstance(m, Deliver), "the message")
                asked = ChoiceRequest(
                    request_id="s2-run", session=2, kind="permission", text="rm?", options=["Yes"]
                )
                await worker_2.send(asked)
                await gateway.expect(lambda m: isinstance(m, ChoiceRequest), "the choice")

                # Worker 1's key answers session 2's permission prompt: not a worker's message.
                forged = ChoiceAnswer(request_id="s2-run", session=2, option="Yes", user_id=666)
                await worker_1.send(forged)
                await until_logged("malformed frame from session-1")
                # ... nor with the gateway's name as its routing identity.
                as_gateway = msgspec.structs.replace(worker_1_keys, identity="gateway")
                posing = dealer_socket(context, endpoint, as_gateway)
                peers.append(Peer(posing))
                await posing.send(encode(forged))
                await until_logged("'gateway' with the key of session-1 dropped")
                # The gateway answers a request never relayed, or one of another session.
                await gateway.send(ChoiceAnswer(request_id="s1-never", session=1, option="Yes"))
                await until_logged("no such open request")
                await gateway.send(ChoiceAnswer(request_id="s2-run", session=1, option="Yes"))
                await until_logged("that request is session 2's")
                # Worker 1 reports on session 2's message, or on one that does not exist.
                theirs = ChatMessage(
                    message_id=22,
                    channel_id=CHANNELS[2],
                    author=Author(id=1, name="a"),
                    content="y",
                )
                await gateway.send(Inbound(seq=2, session=2, message=theirs))
                await worker_2.expect(lambda m: isinstance(m, Deliver), "session 2's message")
                await worker_1.send(DeliveryUpdate(session=1, message_id=22, stage="failed"))
                await until_logged("named message(s) 22 in DeliveryUpdate: not its own")

                # The real answer still goes through, and it is the only one session 2 got.
                real = ChoiceAnswer(request_id="s2-run", session=2, option="Yes", user_id=7)
                await gateway.send(real)
                await worker_2.expect(lambda m: isinstance(m, ChoiceAnswer), "the answer")
                answers = [m for m in worker_2.received if isinstance(m, ChoiceAnswer)]
                assert answers == [real]
                assert not [m for m in worker_1.received if isinstance(m, ChoiceAnswer)]
                progress = [m for m in gateway.received if isinstance(m, PromptProgress)]
                assert all(m.message_id != 22 for m in progress)
                assert supervisor.inbox.open_messages(2)[0][1] == "received"
            finally:
                for peer in peers:
                    peer.socket.close(0)
                context.term()

    asyncio.run(scenario())
