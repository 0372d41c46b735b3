"""The gateway alone, in-process, against the local Discord server and a fake supervisor.

Faster and more precise than the whole stack: the test plays the supervisor (a ROUTER on
the bus socket that answers like the real one: session map on hello, acks for inbound)
and, when it needs to, the control API (a ROUTER on the control socket). Everything runs
on one event loop, so a test waits on the server's state or on the fake supervisor's
received messages with timeouts; nothing sleeps "long enough".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import discord
import discord.gateway
import discord.http
import msgspec
import pytest
import yarl
import zmq
import zmq.asyncio

from vai.common.bus_auth import ClientKeys, ServerKeys, secure_server
from vai.gateway.bot import BridgeBot
from vai.gateway.local_discord import LocalDiscord
from vai.gateway.pacer import Pacer
from vai.protocol.codec import decode, encode
from vai.protocol.layout import Layout, ipc_endpoint
from vai.protocol.messages import (
    ChatMessage,
    ErrorReply,
    GatewayHello,
    Heartbeat,
    Inbound,
    InboundAck,
    Route,
    SessionMap,
    WireMessage,
)
from vai.protocol.specs import GatewaySettings, GatewaySpec

T = TypeVar("T")
M = TypeVar("M", bound=WireMessage)
TOKEN = "rig-token"
TICK = 0.02


class FakeSupervisor:
    """The supervisor's bus as the gateway sees it, recording everything it is sent: a
    CURVE server like it (without its gate), whose `client_keys` the gateway joins with."""

    def __init__(self, layout: Layout, session_map: SessionMap) -> None:
        self.layout = layout
        self.session_map = session_map
        self.context = zmq.asyncio.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.ROUTER_HANDOVER, 1)
        self.keys = ServerKeys.new()
        secure_server(self.socket, self.keys, zap=False)
        self.client_keys: ClientKeys = self.keys.client_keys("gateway")
        layout.run_dir.mkdir(parents=True, exist_ok=True)
        self.socket.bind(ipc_endpoint(layout.bus_socket))
        self.received: list[WireMessage] = []
        self.identity = b""
        self.ack_inbound = True
        self._changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._serve())

    async def _serve(self) -> None:
        while True:
            identity, frame = await self.socket.recv_multipart()
            message = decode(frame)
            self.identity = identity
            if not isinstance(message, Heartbeat):
                self.received.append(message)
            match message:
                case GatewayHello():
                    await self.send(self.session_map)
                case Heartbeat():
                    await self.send(Heartbeat(pid=os.getpid()))
                case Inbound(seq=seq, message=chat) if self.ack_inbound:
                    await self.send(InboundAck(seq=seq, message_id=chat.message_id))
                case _:
                    pass
            event, self._changed = self._changed, asyncio.Event()
            event.set()

    async def send(self, message: WireMessage) -> None:
        await self.socket.send_multipart([self.identity or b"gateway", encode(message)])

    async def update_map(self, session_map: SessionMap) -> None:
        self.session_map = session_map
        await self.send(session_map)

    async def changed(self) -> None:
        await self._changed.wait()

    def of_type(self, kind: type[M]) -> list[M]:
        return [m for m in self.received if isinstance(m, kind)]

    def inbound(self) -> list[ChatMessage]:
        """Every message forwarded, in order, each once (resends collapsed)."""
        seen: dict[int, ChatMessage] = {}
        for message in self.of_type(Inbound):
            seen.setdefault(message.message.message_id, message.message)
        return list(seen.values())

    async def wait_for(
        self, predicate: Callable[[], T], timeout: float = 10.0, what: str = ""
    ) -> T:
        async with asyncio.timeout(timeout):
            while not (result := predicate()):
                await self._changed.wait()
            return result

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.socket.close(linger=0)
        self.context.term()


Handler = Callable[[WireMessage], WireMessage]


class FakeControl:
    """The control API: `handler` answers each request; requests are recorded."""

    def __init__(self, layout: Layout, handler: Handler | None = None) -> None:
        self.context = zmq.asyncio.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.bind(ipc_endpoint(layout.control_socket))
        self.handler: Handler = handler or (lambda m: ErrorReply(text="no handler"))
        self.requests: list[WireMessage] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._serve())

    async def _serve(self) -> None:
        while True:
            identity, frame = await self.socket.recv_multipart()
            request = decode(frame)
            self.requests.append(request)
            await self.socket.send_multipart([identity, encode(self.handler(request))])

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.socket.close(linger=0)
        self.context.term()


@dataclass
class Rig:
    discord: LocalDiscord
    sup: FakeSupervisor
    control: FakeControl
    bot: BridgeBot
    channels: list[int]
    layout: Layout
    task: asyncio.Task[None]
    extra: dict[str, Any] = field(default_factory=dict)

    def bot_messages(self, channel_id: int) -> list[dict[str, Any]]:
        bot = self.discord.bot_user_id
        return [m for m in self.discord.messages(channel_id) if int(m["author"]["id"]) == bot]

    async def wait(self, predicate: Callable[[], T], timeout: float = 10.0, what: str = "") -> T:
        """Until `predicate` holds: re-checked on every change of the Discord server or of
        what the fake supervisor received, and every TICK for the bot's own state."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (result := predicate()):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what or predicate}")
            changes = [
                asyncio.ensure_future(self.discord.changed()),
                asyncio.ensure_future(self.sup.changed()),
            ]
            await asyncio.wait(changes, timeout=min(remaining, TICK), return_when="FIRST_COMPLETED")
            for change in changes:
                change.cancel()
        return result

    async def wait_bot_message(
        self, channel_id: int, predicate: Callable[[dict[str, Any]], bool], what: str = ""
    ) -> dict[str, Any]:
        def found() -> dict[str, Any]:
            return next((m for m in self.bot_messages(channel_id) if predicate(m)), {})

        return await self.wait(found, 10.0, what or "a bot message")

    def requests(self, method: str, fragment: str) -> list[Any]:
        return [r for r in self.discord.request_log if r.method == method and fragment in r.path]


def make_map(channels: list[int], **route_fields: dict[int, Any]) -> SessionMap:
    """Session n+1 for channels[n]; `allowed_users={1: (..)}` etc. per session."""
    routes = []
    for number, channel in enumerate(channels, start=1):
        extra = {name: values[number] for name, values in route_fields.items() if number in values}
        routes.append(Route(session=number, channel_id=channel, **extra))
    return SessionMap(routes=routes, default_session=1)


@contextlib.asynccontextmanager
async def gateway_rig(
    monkeypatch: pytest.MonkeyPatch,
    home: Path,
    *,
    channels: int = 1,
    settings: GatewaySettings | Callable[[LocalDiscord], GatewaySettings] | None = None,
    session_map: Callable[[list[int]], SessionMap] | None = None,
    server: dict[str, Any] | None = None,
    pacer: Pacer | None = None,
    control: Handler | None = None,
    wait_ready: bool = True,
    token: str = TOKEN,
) -> AsyncIterator[Rig]:
    async with LocalDiscord(token=TOKEN, **(server or {})) as ld:
        ids = [ld.add_channel(f"channel-{i}") for i in range(1, channels + 1)]
        monkeypatch.setattr(discord.http.Route, "BASE", ld.api_url)
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(ld.gateway_url)
        )
        layout = Layout(str(home / "vai"))
        smap = session_map(ids) if session_map is not None else make_map(ids)
        sup = FakeSupervisor(layout, smap)
        ctl = FakeControl(layout, control)
        sup.start()
        ctl.start()
        spec = GatewaySpec(
            home=layout.home,
            api_url=ld.api_url,
            gateway_url=ld.gateway_url,
            heartbeat_interval=0.5,
            settings=settings(ld) if callable(settings) else settings or GatewaySettings(),
        )
        bot = BridgeBot(spec, sup.client_keys, pacer=pacer, guild_ready_timeout=0.05)
        bot.start_link()
        task = asyncio.create_task(bot.run_discord(token))
        rig = Rig(ld, sup, ctl, bot, ids, layout, task)
        try:
            if wait_ready:
                await sup.wait_for(lambda: sup.of_type(GatewayHello), 10, "the gateway's hello")
                await rig.wait(bot.is_ready, 10, "the bot to be ready")
                await rig.wait(lambda: bot.inbound.map_known, 10, "the session map")
            yield rig
        finally:
            await bot.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)
            bot.link.close()
            sup.close()
            ctl.close()


def run(coro: Any) -> Any:
    """Run a scenario on a fresh loop (pytest-asyncio is not a dependency)."""
    return asyncio.run(coro)


def replace(obj: Any, **changes: Any) -> Any:
    return msgspec.structs.replace(obj, **changes)
