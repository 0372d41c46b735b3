"""The supervisor's end of the bus: one ROUTER for the gateway and every worker.

Only the processes the supervisor started get onto it: each is admitted at spawn with
its own CURVE keys and a routing identity that holds a random part (common/bus_auth.py
checks the keys at the handshake), so no other peer can connect, nor take over a child's
route. Every frame's User-Id (the name its key was admitted under) must be the name of
the routing identity it came from, or the frame is dropped.

Frames are read in batches; each is decoded against its sender's link (protocol/links.py),
heard by the children's lifecycle (liveness, READY) and handed to the switchboard, whose
answer is sent as it is returned. The gateway's messages of a batch are stored in one
commit (group commit), so durability costs one fsync per batch, not per message.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Iterable
from typing import Protocol

import zmq
import zmq.asyncio

from vai.common.bus import router_socket
from vai.common.bus_auth import BusGate, ClientKeys, Throttle, peer_name
from vai.protocol.codec import ProtocolError, encode
from vai.protocol.framing import GATEWAY_IDENTITY, routed_frame, worker_identity
from vai.protocol.layout import ipc_endpoint
from vai.protocol.links import FROM_GATEWAY, FROM_WORKER, SupervisorToWorker
from vai.protocol.messages import Inbound, WireMessage
from vai.supervisor.children import Child, Children
from vai.supervisor.config import Config
from vai.supervisor.interfaces import AlertSink
from vai.supervisor.leftovers import ChildRegistry
from vai.supervisor.peer_book import PeerBook
from vai.supervisor.switchboard import Destination, Gateway, Send, Switchboard, Worker

log = logging.getLogger("supervisor")

# Frames taken from the socket per pass (and so messages per inbox commit), at most.
BATCH = 512
# Routing identities kept per destination: the current process's and the one before
# (frames it sent just before it exited may still be queued).
GENERATIONS = 2


def name_of(destination: Destination) -> str:
    """The peer name a destination's keys are admitted under (the frames' User-Id)."""
    if isinstance(destination, Gateway):
        return GATEWAY_IDENTITY.decode()
    return worker_identity(destination.session).decode()


def shown(identity: bytes) -> str:
    """A routing identity for the log, without its random part."""
    name, sep, _ = identity.partition(b"/")
    return name.decode("ascii", "replace")[:40] + ("/…" if sep else "")


class RemoteSessions(Protocol):
    """Sessions whose worker runs on another host, reached through the hub link."""

    def places(self, session: int) -> bool: ...

    async def send(self, session: int, message: SupervisorToWorker) -> bool: ...


class Bus:
    def __init__(self, socket: zmq.asyncio.Socket, gate: BusGate) -> None:
        self.socket = socket
        self.gate = gate
        self.remote: RemoteSessions | None = None
        self._peers: dict[bytes, Destination] = {}  # routing identity -> who it is
        self._identities: dict[Destination, list[bytes]] = {}  # newest last
        self._refusals = Throttle(10.0)

    @classmethod
    def open(cls, context: zmq.asyncio.Context, endpoint: str) -> Bus:
        """Bind the ROUTER behind a fresh gate (answering handshakes from now on)."""
        gate = BusGate(context, log)
        gate.start()
        try:
            return cls(router_socket(context, endpoint, gate), gate)
        except BaseException:
            gate.stop()
            raise

    def close(self) -> None:
        self.gate.stop()
        self.socket.close(linger=0)

    # -- who may connect ---------------------------------------------------------------------

    def admit(self, destination: Destination) -> ClientKeys:
        """Keys and a routing identity for a process about to start as `destination`."""
        name = name_of(destination)
        keys = self.gate.issue(name, f"{name}/{secrets.token_hex(16)}")
        identities = self._identities.setdefault(destination, [])
        identities.append(keys.identity.encode())
        self._peers[identities[-1]] = destination
        for old in identities[:-GENERATIONS]:
            del self._peers[old]
        del identities[:-GENERATIONS]
        return keys

    def forget(self, keys: ClientKeys) -> None:
        """The process exited: its key gets through no handshake any more."""
        self.gate.revoke(keys.public_key.encode())

    def sender(self, identity: bytes, body: zmq.Frame) -> Destination | None:
        """Who sent a frame: its routing identity's, if its key was admitted under that
        name; None (and a warning naming both) otherwise."""
        destination = self._peers.get(identity)
        user = peer_name(body)
        if destination is not None and user == name_of(destination):
            return destination
        held = self._refusals.allow((identity, user))
        if held is not None:
            log.warning(
                "bus: frame from routing identity %r with the key of %s dropped:"
                " a peer speaks only for itself%s",
                shown(identity),
                user or "nobody",
                f" ({held} more since)" if held else "",
            )
        return None

    # -- sending and receiving ---------------------------------------------------------------

    async def send(self, destination: Destination, message: WireMessage) -> bool:
        """False when the peer is not connected (ROUTER_MANDATORY refuses it). A session
        placed on another host is reached through its host's link."""
        if (
            self.remote is not None
            and isinstance(destination, Worker)
            and self.remote.places(destination.session)
        ):
            return await self.remote.send(destination.session, message)  # type: ignore[arg-type]
        return await self.send_frame(destination, encode(message))

    async def send_frame(self, destination: Destination, frame: bytes) -> bool:
        """An encoded message (a host agent relays the hub's frames as they are)."""
        identities = self._identities.get(destination)
        if not identities:
            return False
        try:
            await self.socket.send_multipart([identities[-1], frame])
            return True
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            log.debug("frame not sent to %s: not connected", destination)
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
            batch = [await self.socket.recv_multipart(copy=False)]
            while len(batch) < BATCH:
                try:
                    batch.append(await self.socket.recv_multipart(flags=zmq.NOBLOCK, copy=False))
                except zmq.Again:
                    break
            inbound: list[Inbound] = []
            for frames in batch:
                try:
                    identity, body = routed_frame(frames)
                except ProtocolError as exc:
                    log.warning("dropped a malformed frame on the bus: %s", exc)
                    continue
                destination = self.sender(identity.bytes, body)
                if destination is None:
                    continue
                session = destination.session if isinstance(destination, Worker) else None
                child = children.get(session)
                if child is None:
                    log.warning("message from %s dropped: no such child", name_of(destination))
                elif child.session is None:
                    await self._from_gateway(child, body.bytes, children, switchboard, inbound)
                else:
                    await self._from_worker(child, child.session, body.bytes, children, switchboard)
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


def bus_and_children(
    context: zmq.asyncio.Context,
    config: Config,
    *,
    clock: Callable[[], float],
    peers: PeerBook,
    alerts: AlertSink,
    registry: ChildRegistry,
    session_starting: Callable[[int], None],
    wake: asyncio.Event,
    held: set[int] | None = None,
    on_change: Callable[[], None] = lambda: None,
) -> tuple[Bus, Children]:
    """The bus on `run/bus.sock` (a stale socket file replaced) and the children it admits:
    the same for the hub's supervisor and a host agent. No child is added or started yet."""
    config.layout.bus_socket.unlink(missing_ok=True)
    bus = Bus.open(context, ipc_endpoint(config.layout.bus_socket))
    children = Children(
        config,
        clock=clock,
        switchboard=peers,
        send=bus.send,
        admit=bus.admit,
        forget=bus.forget,
        alerts=alerts,
        registry=registry,
        session_starting=session_starting,
        wake=wake,
        held=held,
        on_change=on_change,
    )
    return bus, children
