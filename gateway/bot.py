"""The Discord side of the gateway: the only code that holds the token or talks to Discord.

It turns Discord messages into `Inbound` messages for the supervisor and the supervisor's
`PostReply`/`PromptProgress`/`Typing` into Discord posts, reactions and typing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import discord

from gateway.catch_up import CatchUp
from gateway.local_discord import LocalDiscord
from gateway.local_mode import ensure_channels
from gateway.ordered import OrderedChannels
from gateway.routing import AccessPolicy, Router
from gateway.spec import GatewaySpec
from gateway.supervisor_link import SupervisorLink
from protocol.messages import (
    AttachmentRef,
    Author,
    ChatMessage,
    InboundAck,
    PostReply,
    PromptProgress,
    ReplyPosted,
    SessionMap,
    Typing,
    WireMessage,
)
from protocol.text import split_for_discord

log = logging.getLogger("gateway")

REACTION = {"received": "📥", "accepted": "✅", "failed": "❌"}
# Discord's message nonce is at most 25 characters.
NONCE_LENGTH = 25
TYPING_LIMIT = 600.0


def nonce_for(reply_id: str, part: int) -> str:
    """A stable nonce per reply part, so a repost after a restart is deduplicated by Discord."""
    return hashlib.sha256(f"{reply_id}:{part}".encode()).hexdigest()[:NONCE_LENGTH]


def chat_message(message: discord.Message) -> ChatMessage:
    roles = getattr(message.author, "roles", [])
    return ChatMessage(
        message_id=message.id,
        channel_id=message.channel.id,
        author=Author(
            id=message.author.id,
            name=str(message.author),
            bot=message.author.bot,
            role_ids=tuple(role.id for role in roles),
        ),
        content=message.content,
        attachments=tuple(
            AttachmentRef(
                filename=a.filename, url=a.url, size=a.size, content_type=a.content_type or ""
            )
            for a in message.attachments
        ),
        created_at=message.created_at.timestamp(),
    )


class BridgeBot(discord.Client):
    def __init__(self, spec: GatewaySpec, local: LocalDiscord | None = None) -> None:
        intents = discord.Intents.default()
        intents.message_content = True
        super().__init__(intents=intents)
        self.spec = spec
        self.local = local
        self.router = Router()
        self.access: AccessPolicy | None = None
        self.link = SupervisorLink(spec.layout, spec.heartbeat_interval, self.on_supervisor)
        self._typing: dict[int, asyncio.Task[None]] = {}
        self._pending_ack: dict[int, discord.Message] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        self._ordered = OrderedChannels()
        self._map_ready = asyncio.Event()
        self.catch_up = CatchUp(self._forward, self._history, self._oldest_allowed)

    async def setup_hook(self) -> None:
        self._tasks = [
            asyncio.create_task(self.link.receive_loop()),
            asyncio.create_task(self.link.upkeep_loop()),
            asyncio.create_task(self._exit_when_orphaned()),
        ]
        await self.link.start(self.local.base_url if self.local else "")

    async def _exit_when_orphaned(self) -> None:
        await self.link.lost.wait()
        await self.close()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for typing in self._typing.values():
            typing.cancel()
        self._ordered.close()
        await super().close()
        self.link.close()

    async def on_ready(self) -> None:
        assert self.user is not None
        log.info("logged in as %s (%d)", self.user, self.user.id)
        self.catch_up.reset()
        self._spawn(self._catch_up_all())

    # -- Discord -> supervisor -----------------------------------------------------------------

    async def on_message(self, message: discord.Message) -> None:
        if not self.catch_up.hold(message):
            await self._forward(message)

    async def _catch_up_all(self) -> None:
        await self._map_ready.wait()
        await self.catch_up.run(self.router.channels)

    def _history(self, channel_id: int, after: int) -> AsyncIterator[discord.Message]:
        channel = self.get_partial_messageable(channel_id)
        return channel.history(after=discord.Object(after), oldest_first=True, limit=None)

    def _oldest_allowed(self) -> int:
        age = timedelta(seconds=self.spec.catch_up_max_age)
        return discord.utils.time_snowflake(datetime.now(UTC) - age)

    async def _forward(self, message: discord.Message) -> int:
        """Send a message to its session if it is new, mapped and allowed; 1 if sent."""
        if self.user is None:
            return 0
        channel_id = message.channel.id
        if not self.catch_up.is_new(message):
            return 0
        if self.access is None:
            self.access = AccessPolicy(
                self.user.id, self.spec.allowed_users, self.spec.allowed_roles
            )
        session = self.router.session_for(channel_id)
        if session is None:
            return 0
        chat = chat_message(message)
        verdict = self.access.check(chat.author, is_webhook=message.webhook_id is not None)
        if not verdict.forward:
            log.debug("not forwarding message %d: %s", message.id, verdict.reason)
            return 0
        self._pending_ack[message.id] = message
        await self.link.send_inbound(session, chat)
        return 1

    # -- supervisor -> Discord -----------------------------------------------------------------

    async def on_supervisor(self, message: WireMessage) -> None:
        match message:
            case SessionMap():
                self.router.update(message)
                self.catch_up.update_map(message)
                self._map_ready.set()
                if self.is_ready():
                    self._spawn(self._catch_up_all())
                if self.local is not None:
                    ensure_channels(self.local, message)
            case InboundAck(message_id=message_id):
                original = self._pending_ack.pop(message_id, None)
                if original is not None:
                    self._spawn(self._react(original.channel.id, message_id, REACTION["received"]))
            case PromptProgress():
                self._spawn(self._on_progress(message))
            case PostReply():
                reply = message
                self._ordered.submit(reply.channel_id, lambda: self._post_reply(reply))
            case Typing(channel_id=channel_id, active=active):
                self._set_typing(channel_id, active)
            case _:
                log.warning("unexpected %s from the supervisor", type(message).__name__)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(_log_failure)

    async def _react(self, channel_id: int, message_id: int, emoji: str) -> None:
        channel = self.get_partial_messageable(channel_id)
        with contextlib.suppress(discord.HTTPException):
            await channel.get_partial_message(message_id).add_reaction(emoji)

    async def _on_progress(self, progress: PromptProgress) -> None:
        emoji = REACTION.get(progress.stage)
        if emoji:
            await self._react(progress.channel_id, progress.message_id, emoji)
        if progress.stage == "accepted":
            self._set_typing(progress.channel_id, True)
        elif progress.stage == "failed":
            self._set_typing(progress.channel_id, False)
            channel = self.get_partial_messageable(progress.channel_id)
            reference = channel.get_partial_message(progress.message_id)
            with contextlib.suppress(discord.HTTPException):
                await channel.send(
                    f"❌ Not delivered to Claude: {progress.detail or 'unknown error'}",
                    reference=reference,
                    mention_author=False,
                )

    async def _post_reply(self, reply: PostReply) -> None:
        channel = self.get_partial_messageable(reply.channel_id)
        self._set_typing(reply.channel_id, False)
        try:
            parts = split_for_discord(reply.text)
            if reply.file_path:
                await channel.send(
                    parts[0] if parts else None,
                    file=discord.File(Path(reply.file_path)),
                    nonce=nonce_for(reply.reply_id, 0),
                )
                parts = parts[1:]
            for index, part in enumerate(parts):
                await channel.send(part, nonce=nonce_for(reply.reply_id, index + 1))
        except (discord.HTTPException, OSError) as exc:
            log.warning("reply %s failed: %s", reply.reply_id, exc)
            await self.link.send(ReplyPosted(reply_id=reply.reply_id, ok=False, error=str(exc)))
            return
        await self.link.send(ReplyPosted(reply_id=reply.reply_id))

    def _set_typing(self, channel_id: int, active: bool) -> None:
        current = self._typing.pop(channel_id, None)
        if current is not None:
            current.cancel()
        if active:
            self._typing[channel_id] = asyncio.create_task(self._type_in(channel_id))

    async def _type_in(self, channel_id: int) -> None:
        channel = self.get_partial_messageable(channel_id)
        with contextlib.suppress(discord.HTTPException, TimeoutError):
            async with asyncio.timeout(TYPING_LIMIT), channel.typing():
                await asyncio.Event().wait()


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("gateway task failed", exc_info=task.exception())
