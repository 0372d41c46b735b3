"""A host agent's one connection to its hub: a DEALER over TCP with CURVE.

The host's key (host.key, made by `vai init --host`) is what the hub admits it by; the
hub's public key (`[host] hub_public_key`) is what the host checks the hub by, so neither
side talks to an impostor. On top: the reliable channel (channel.py) and the liveness
(liveness.py). When the hub goes silent for the liveness window the connection is
dropped and made again after a backoff (a half-open TCP connection may never recover on
its own); every unacked frame is then resent, in order.

One task owns the socket (`run`): it polls for frames until the next deadline, then does
what is due: reconnect, resend, heartbeat.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

import zmq
import zmq.asyncio

from vai.common.bus_auth import ClientKeys, secure_client
from vai.common.errors import ConfigError
from vai.protocol.codec import ProtocolError
from vai.protocol.host_link import FRAMES, TO_HOST, HostToHub, HubToHost, LinkFrame, encode_link
from vai.supervisor.config import Config
from vai.supervisor.hub.channel import ReliableChannel
from vai.supervisor.hub.keys import read_keypair, valid_key
from vai.supervisor.hub.liveness import LinkLiveness

log = logging.getLogger("supervisor")

# Frames taken per wake-up, at most, before the due work runs.
BATCH = 256


class HubConnection:
    def __init__(
        self,
        config: Config,
        context: zmq.asyncio.Context,
        *,
        clock: Callable[[], float],
        on_payload: Callable[[HubToHost], Awaitable[None]],
        on_connect: Callable[[], Awaitable[None]],
    ) -> None:
        section = config.file.host
        if not section.name or not section.hub:
            raise ConfigError(config.layout.config_file, "[host] needs `name` and `hub`")
        if not valid_key(section.hub_public_key):
            raise ConfigError(
                config.layout.config_file,
                "[host] hub_public_key is not a z85 CURVE key (the hub logs its own at start)",
            )
        own = read_keypair(config.layout.host_key)
        self.name = section.name
        self.endpoint = section.hub
        self.keys = ClientKeys(
            server_key=section.hub_public_key,
            public_key=own.public.decode(),
            secret_key=own.secret.decode(),
            identity=f"host:{section.name}/{secrets.token_hex(8)}",
        )
        self.context = context
        self.clock = clock
        self.on_payload = on_payload
        self.on_connect = on_connect
        interval = config.file.hub.heartbeat_interval
        self.channel = ReliableChannel(clock)
        self.liveness = LinkLiveness(clock, interval, config.file.hub.liveness)
        self.socket: zmq.asyncio.Socket | None = None

    @property
    def up(self) -> bool:
        return self.liveness.up

    def _connect(self) -> None:
        socket = self.context.socket(zmq.DEALER)
        secure_client(socket, self.keys)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.RECONNECT_IVL, 100)
        socket.setsockopt(zmq.RECONNECT_IVL_MAX, 2000)
        socket.connect(self.endpoint)
        self.socket = socket
        self.liveness.last_heard = self.clock()  # a fresh connection gets its window

    def _disconnect(self) -> None:
        if self.socket is not None:
            self.socket.close(linger=0)
            self.socket = None

    def close(self) -> None:
        self._disconnect()

    async def send(self, payload: HostToHub) -> None:
        """Numbered and kept until acked: sent now if the socket takes it, else resent."""
        await self._put(self.channel.send(encode_link(payload)))

    async def _put(self, frame: LinkFrame) -> bool:
        if self.socket is None:
            return False
        try:
            await self.socket.send(encode_link(frame), flags=zmq.NOBLOCK)
        except zmq.Again:
            return False
        self.liveness.sent()
        return True

    async def run(self) -> None:
        self._connect()
        await self.on_connect()
        while True:
            timeout = max(0.0, self._next_deadline() - self.clock())
            socket = self.socket
            if socket is not None and await socket.poll(int(timeout * 1000) + 1):
                for _ in range(BATCH):
                    try:
                        raw = await socket.recv(flags=zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    await self._received(raw)
            elif socket is None:
                await asyncio.sleep(timeout)
            await self._due()

    def _next_deadline(self) -> float:
        deadlines = [self.liveness.next_deadline()]
        if (resend := self.channel.next_resend()) is not None:
            deadlines.append(resend)
        return min(deadlines)

    async def _due(self) -> None:
        if self.liveness.should_reconnect():
            self._disconnect()
            at = self.liveness.schedule_reconnect()
            log.warning(
                "host %s: no word from the hub at %s; reconnecting in %.1fs",
                self.name,
                self.endpoint,
                at - self.clock(),
            )
        if self.socket is None:
            if self.liveness.reconnect_due():
                self.liveness.reconnect_at = None
                self._connect()
                await self.on_connect()
                for frame in self.channel.resend_all():
                    await self._put(frame)
            return
        for frame in self.channel.resend_due():
            await self._put(frame)
        if self.liveness.heartbeat_due():
            await self._put(self.channel.heartbeat())

    async def _received(self, raw: bytes) -> None:
        try:
            frame = FRAMES.decode(raw)
        except ProtocolError as exc:
            log.warning("host %s: dropped a malformed frame from the hub: %s", self.name, exc)
            return
        if self.liveness.heard():
            log.info("host %s: linked to the hub at %s", self.name, self.endpoint)
        received = self.channel.receive(frame)
        if received.peer_restarted:
            log.info("host %s: the hub restarted", self.name)
        for body in received.bodies:
            try:
                payload = TO_HOST.decode(body)
            except ProtocolError as exc:
                log.warning("host %s: dropped a malformed payload: %s", self.name, exc)
                continue
            await self.on_payload(payload)
