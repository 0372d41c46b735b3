"""The supervisor's end of the bus: one ROUTER for the gateway and every worker.

Frames are read in batches; each is decoded against its sender's link (protocol/links.py),
heard by the children's lifecycle (liveness, READY) and handed to the switchboard, whose
answer is sent as it is returned. The gateway's messages of a batch are stored in one
commit (group commit), so durability costs one fsync per batch, not per message.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import zmq
import zmq.asyncio

from vai.common.bus import send_to
from vai.protocol.codec import ProtocolError
from vai.protocol.framing import GATEWAY_IDENTITY, routed_frame, worker_identity
from vai.protocol.links import FROM_GATEWAY, FROM_WORKER
from vai.protocol.messages import Inbound, WireMessage
from vai.supervisor.children import Child, Children
from vai.supervisor.switchboard import Destination, Gateway, Send, Switchboard

log = logging.getLogger("supervisor")

# Frames taken from the socket per pass (and so messages per inbox commit), at most.
BATCH = 512


def identity_of(destination: Destination) -> bytes:
    return (
        GATEWAY_IDENTITY
        if isinstance(destination, Gateway)
        else worker_identity(destination.session)
    )


class Bus:
    def __init__(self, socket: zmq.asyncio.Socket) -> None:
        self.socket = socket

    async def send(self, destination: Destination, message: WireMessage) -> bool:
        """False when the peer is not connected (ROUTER_MANDATORY refuses it)."""
        try:
            await send_to(self.socket, identity_of(destination), message)
            return True
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            log.debug("%s not sent to %s: not connected", type(message).__name__, destination)
            return False

    async def send_all(self, sends: Iterable[Send]) -> bool:
        """Send in order; True when every one went out."""
        sent = True
        for destination, message in sends:
            sent = await self.send(destination, message) and sent
        return sent

    async def serve(
        self, children: Children, switchboard: Switchboard, wake: asyncio.Event
    ) -> None:
        while True:
            batch = [await self.socket.recv_multipart()]
            while len(batch) < BATCH:
                try:
                    batch.append(await self.socket.recv_multipart(flags=zmq.NOBLOCK))
                except zmq.Again:
                    break
            inbound: list[Inbound] = []
            for frames in batch:
                try:
                    identity, frame = routed_frame(frames)
                except ProtocolError as exc:
                    log.warning("dropped a malformed frame on the bus: %s", exc)
                    continue
                child = children.by_identity(identity)
                if child is None:
                    log.warning("message from unknown peer %r dropped", identity)
                elif child.session is None:
                    await self._from_gateway(child, frame, children, switchboard, inbound)
                else:
                    await self._from_worker(child, child.session, frame, children, switchboard)
            if inbound:
                await self.send_all(switchboard.inbound(inbound))
            wake.set()

    async def _from_gateway(
        self,
        child: Child,
        frame: bytes,
        children: Children,
        switchboard: Switchboard,
        inbound: list[Inbound],
    ) -> None:
        """Inbound messages wait for the batch's end (one commit); the rest are routed now."""
        try:
            message = FROM_GATEWAY.decode(frame)
        except ProtocolError as exc:
            log.warning("dropped a malformed frame from the gateway: %s", exc)
            return
        children.heard(child, message)
        if isinstance(message, Inbound):
            inbound.append(message)
        else:
            await self.send_all(switchboard.from_gateway(message))

    async def _from_worker(
        self,
        child: Child,
        session: int,
        frame: bytes,
        children: Children,
        switchboard: Switchboard,
    ) -> None:
        try:
            message = FROM_WORKER.decode(frame)
        except ProtocolError as exc:
            log.warning("dropped a malformed frame from %s: %s", child.name, exc)
            return
        children.heard(child, message)
        await self.send_all(switchboard.from_worker(session, message))
