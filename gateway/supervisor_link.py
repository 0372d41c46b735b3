"""The gateway's reliable link to the supervisor (a DEALER; Lazy Pirate with sequence numbers).

Every inbound message is kept until the supervisor acknowledges it (it acks only after
its inbox committed the message) and resent on a timer until then; the supervisor
deduplicates by Discord message id, so a resend is harmless. It is encoded once, before
it is kept: a message that cannot be encoded raises to the caller and is never retried.

The link runs (heartbeats) from before the Discord login, so the supervisor sees a live
gateway while it logs in; the hello, which makes the supervisor send the session map and
count the gateway as ready, goes only once Discord accepted the token and intents.
Silence from the supervisor counts only after the hello (it does not talk to us before).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from collections.abc import Awaitable, Callable

import zmq.asyncio

from vai.common.bus import dealer_socket, send
from vai.common.bus_auth import ClientKeys
from vai.protocol.codec import ProtocolError, encode
from vai.protocol.framing import parse_single
from vai.protocol.layout import Layout, ipc_endpoint
from vai.protocol.links import TO_GATEWAY, GatewayToSupervisor, SupervisorToGateway
from vai.protocol.messages import (
    ChatMessage,
    GatewayHello,
    Heartbeat,
    Inbound,
    InboundAck,
)

log = logging.getLogger("gateway.link")

RESEND_AFTER = 1.0
SUPERVISOR_LIVENESS = 5

Handler = Callable[[SupervisorToGateway], Awaitable[None]]


class SupervisorLink:
    def __init__(
        self, layout: Layout, keys: ClientKeys, heartbeat_interval: float, handler: Handler
    ) -> None:
        self.context = zmq.asyncio.Context()
        # Authenticated with the keys the supervisor handed us at spawn (common/bus_auth.py).
        self.socket = dealer_socket(self.context, ipc_endpoint(layout.bus_socket), keys)
        self.heartbeat_interval = heartbeat_interval
        self.handler = handler
        self.unacked: dict[int, tuple[float, bytes]] = {}  # seq -> (sent at, frame)
        self.acked = asyncio.Event()
        self._seq = itertools.count(1)
        self._last_heard = time.monotonic()
        self.lost = asyncio.Event()
        self.hello_sent = False

    async def hello(self, local_url: str = "") -> None:
        self._last_heard = time.monotonic()
        self.hello_sent = True
        await send(self.socket, GatewayHello(pid=os.getpid(), local_url=local_url))

    def close(self, linger_ms: int = 0) -> None:
        """`linger_ms` > 0 lets queued messages (a last problem report) go out first."""
        self.socket.close(linger=linger_ms)
        self.context.term()

    async def send_inbound(self, session: int, message: ChatMessage) -> None:
        inbound = Inbound(seq=next(self._seq), session=session, message=message)
        frame = encode(inbound)
        self.unacked[inbound.seq] = (time.monotonic(), frame)
        await self.socket.send(frame)

    async def send(self, message: GatewayToSupervisor) -> None:
        await send(self.socket, message)

    async def receive_loop(self) -> None:
        while True:
            frames = await self.socket.recv_multipart()
            self._last_heard = time.monotonic()
            try:
                message = parse_single(frames, TO_GATEWAY)
            except ProtocolError as exc:
                log.warning("dropped a malformed frame from the supervisor: %s", exc)
                continue
            if isinstance(message, InboundAck):
                self.unacked.pop(message.seq, None)
                self.acked.set()
            if not isinstance(message, Heartbeat):
                await self.handler(message)

    async def upkeep_loop(self) -> None:
        """Heartbeats, resends of unacknowledged messages, and supervisor liveness."""
        while True:
            await asyncio.sleep(self.heartbeat_interval / 2)
            now = time.monotonic()
            await send(self.socket, Heartbeat(pid=os.getpid()))
            for seq, (sent_at, frame) in list(self.unacked.items()):
                if now - sent_at > RESEND_AFTER:
                    self.unacked[seq] = (now, frame)
                    await self.socket.send(frame)
            silent = now - self._last_heard > self.heartbeat_interval * SUPERVISOR_LIVENESS
            if self.hello_sent and silent:
                log.error("no word from the supervisor for %.1fs; exiting", now - self._last_heard)
                self.lost.set()
                return
