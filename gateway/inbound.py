"""Discord -> supervisor: which messages become prompts, exactly once and in channel order.

A message is forwarded when its channel has a session (or unmapped channels go to the
default session) and its author is a human allowed for that session. Everything else is
dropped here, quietly or with a reaction. Over the rate limit a message waits (⏳, in
channel order, gateway/held_messages.py) and is sent when its turn comes; only a flood
beyond the queue's cap is refused (❌ and a reply saying it was NOT sent).

After a full reconnect (a new gateway session, not a resume) Discord does not replay
what was posted meanwhile, so the channel's history is read from after the newest
message the supervisor already has; live messages of that channel wait until the
history is read, so order holds, and a message id seen once is never sent again.
Messages that arrive before the supervisor's session map wait for it the same way.

Text is taken in here, so it is made encodable here: a lone surrogate (which JSON can
carry, and msgpack, SQLite and log files refuse) in the content, the author's name or a
file name becomes U+FFFD, with a log line; a message that still cannot be sent gets ❌
and a reply saying why, and is skipped. No message can stop the gateway.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import discord
import msgspec

from vai.gateway.access import AccessPolicy, DeniedNotices
from vai.gateway.feedback import REACTION, Feedback
from vai.gateway.held_messages import HeldMessages
from vai.gateway.ratelimit import InboundLimiter
from vai.gateway.routing import Router
from vai.protocol.messages import AttachmentRef, Author, ChatMessage
from vai.protocol.text import well_formed

log = logging.getLogger("gateway.inbound")

FORWARDED_TYPES = (discord.MessageType.default, discord.MessageType.reply)
MEMBER_CACHE_SECONDS = 300.0

Send = Callable[[int, ChatMessage], Awaitable[None]]


def chat_message(message: discord.Message, role_ids: tuple[int, ...] | None = None) -> ChatMessage:
    """The message as the bridge carries it, every text made encodable (U+FFFD)."""
    roles = getattr(message.author, "roles", [])
    replaced: dict[str, int] = {}

    def text(value: str, what: str) -> str:
        clean, count = well_formed(value)
        if count:
            replaced[what] = replaced.get(what, 0) + count
        return clean

    chat = ChatMessage(
        message_id=message.id,
        channel_id=message.channel.id,
        author=Author(
            id=message.author.id,
            name=text(str(message.author), "the author's name"),
            bot=message.author.bot,
            role_ids=role_ids if role_ids is not None else tuple(role.id for role in roles),
        ),
        content=text(message.content, "the text"),
        attachments=tuple(
            AttachmentRef(
                filename=text(a.filename, "a file name"),
                url=text(a.url, "a file's address"),
                size=a.size,
                content_type=text(a.content_type or "", "a file's type"),
            )
            for a in message.attachments
        ),
        created_at=message.created_at.timestamp(),
    )
    if replaced:
        where = ", ".join(f"{count} in {what}" for what, count in replaced.items())
        log.warning(
            "message %d: replaced characters that cannot be encoded (lone surrogates) with"
            " U+FFFD: %s",
            message.id,
            where,
        )
    return chat


class InboundForwarder:
    def __init__(
        self,
        client: discord.Client,
        router: Router,
        access: AccessPolicy,
        limiter: InboundLimiter,
        feedback: Feedback,
        *,
        send: Send,
        denied_reaction: str = "",
        catch_up_max_age: float = 3600.0,
    ) -> None:
        self.client = client
        self.router = router
        self.access = access
        self.limiter = limiter
        self.feedback = feedback
        self.send = send
        self.denied_reaction = denied_reaction
        self.denied_notices = DeniedNotices()
        self.catch_up_max_age = catch_up_max_age
        self.known_last: dict[int, int] = {}  # from the supervisor's session map
        self.last_seen: dict[int, int] = {}
        self.pending_ack: dict[int, discord.Message] = {}
        self._catching: set[int] = set()
        self._buffered: dict[int, list[discord.Message]] = {}
        self.map_known = False
        self._early: list[discord.Message] = []
        self._catch_up_lock = asyncio.Lock()
        self._catch_ups_due = 0
        self._locks: dict[int, asyncio.Lock] = {}
        self._members: dict[tuple[int, int], tuple[float, tuple[int, ...]]] = {}
        self.dropped: dict[str, int] = {}
        self.held = HeldMessages()

    def _lock(self, channel_id: int) -> asyncio.Lock:
        lock = self._locks.get(channel_id)
        if lock is None:
            lock = self._locks[channel_id] = asyncio.Lock()
        return lock

    async def on_message(self, message: discord.Message) -> None:
        """discord.py runs each event in its own task; the channel's lock keeps their order."""
        channel_id = message.channel.id
        if not self.map_known:
            self._early.append(message)
            return
        async with self._lock(channel_id):
            if channel_id in self._catching:
                self._buffered.setdefault(channel_id, []).append(message)
            else:
                await self.forward(message)

    def hold(self, channel_id: int) -> None:
        """Hold the channel's live messages (a thread whose session is being made)."""
        self._catching.add(channel_id)

    def release(self, channel_id: int) -> None:
        """Its session will not come: what was held is dropped."""
        self._catching.discard(channel_id)
        self._buffered.pop(channel_id, None)

    async def open_channel(self, channel_id: int, after: int) -> None:
        """A new session's channel (a thread): forward its history after `after`, then
        what was held."""
        self.known_last[channel_id] = max(self.known_last.get(channel_id, 0), after)
        self._catching.add(channel_id)
        await self._catch_up_channel(channel_id)

    def _replayable(self) -> list[int]:
        return [
            c
            for c in self.router.channels
            if max(self.last_seen.get(c, 0), self.known_last.get(c, 0)) > 0
        ]

    def new_session(self) -> None:
        """A new Discord session began (a full reconnect loses events): hold live messages
        of every channel to replay until `catch_up` (spawned once per call) has replayed
        its history. Called before the session's first await, so before any of its
        message events runs."""
        self._catch_ups_due += 1
        self._catching.update(self._replayable())

    async def catch_up(self) -> None:
        """Forward what was posted while the gateway was away, then what was held.

        Run once per `new_session`, once the session map is known. Starts after the newest
        message the supervisor already has per channel, never older than the configured
        maximum age; channels never seen before are not replayed.
        """
        async with self._catch_up_lock:
            try:
                channels = self._replayable()
                self._catching.update(channels)
                early, self._early = self._early, []
                for message in early:
                    await self.on_message(message)
                for channel_id in channels:
                    await self._catch_up_channel(channel_id)
            finally:
                self._catch_ups_due = max(0, self._catch_ups_due - 1)

    async def _catch_up_channel(self, channel_id: int) -> None:
        cutoff = discord.utils.time_snowflake(
            datetime.now(UTC) - timedelta(seconds=self.catch_up_max_age)
        )
        after = max(self.last_seen.get(channel_id, 0), self.known_last.get(channel_id, 0))
        count = 0
        await self._lock(channel_id).acquire()
        try:
            found = self.client.get_channel(channel_id)
            channel: discord.abc.Messageable = (
                found
                if isinstance(found, discord.abc.Messageable)
                else self.client.get_partial_messageable(channel_id)
            )
            async for message in channel.history(
                after=discord.Object(max(after, cutoff)), oldest_first=True, limit=None
            ):
                count += await self.forward(message)
        except discord.HTTPException as exc:
            log.warning("catching up on channel %d failed: %s", channel_id, exc)
        finally:
            try:
                if self._catch_ups_due <= 1:  # else a newer session's catch-up still holds
                    self._catching.discard(channel_id)
                    for message in sorted(self._buffered.pop(channel_id, []), key=lambda m: m.id):
                        await self.forward(message)
            finally:
                self._lock(channel_id).release()
        if count:
            log.info("caught up on %d messages in channel %d", count, channel_id)

    def _drop(self, message: discord.Message, reason: str) -> int:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1
        log.debug("not forwarding message %d: %s", message.id, reason)
        return 0

    async def forward(self, message: discord.Message) -> int:
        """Send a message to its session if it is new, mapped, allowed and in its limits."""
        if self.client.user is None:
            return 0
        channel_id = message.channel.id
        if message.id <= self.last_seen.get(channel_id, 0):
            return 0
        self.last_seen[channel_id] = message.id
        session = self.router.session_for(channel_id)
        if session is None:
            return self._drop(message, "unmapped channel")
        if message.type not in FORWARDED_TYPES:
            return self._drop(message, f"system message ({message.type.name})")
        roles = await self._roles(message, session)
        chat = chat_message(message, roles)
        verdict = self.access.check(chat.author, session, is_webhook=message.webhook_id is not None)
        if not verdict.forward:
            if verdict.denied_human and self.denied_notices.due(chat.author.id):
                log.info(
                    "message %d from user %d refused in session %d: neither an owner nor"
                    " allowed (owners and allow lists in vai.toml)",
                    message.id,
                    chat.author.id,
                    session,
                )
                if self.denied_reaction:
                    self.feedback.react(channel_id, message.id, self.denied_reaction)
            return self._drop(message, verdict.reason)
        limit = self.limiter.check(chat.author.id, session, chat.created_at or time.time())
        settings = self.limiter.settings
        if not limit.ok:
            log.info(
                "message %d from %d refused: %s rate limit, queue full",
                message.id,
                chat.author.id,
                limit.scope,
            )
            self.feedback.react(channel_id, message.id, REACTION["failed"])
            if limit.notify:
                self.feedback.notice(channel_id, message.id, limit.notice(settings), "limited")
            return self._drop(message, f"{limit.scope} rate limit")
        if limit.delay > 0 or self.held.waiting(channel_id):
            if limit.delay > 0:
                log.info(
                    "message %d from %d waits %.1fs: %s rate limit",
                    message.id,
                    chat.author.id,
                    limit.delay,
                    limit.scope,
                )
                self.feedback.react(channel_id, message.id, REACTION["limited"])
                if limit.notify:
                    text = limit.queued_notice(settings)
                    self.feedback.notice(channel_id, message.id, text, "limited")

            async def later(waited: bool = limit.delay > 0) -> None:
                if waited:
                    self.feedback.unreact(channel_id, message.id, REACTION["limited"])
                await self._send(message, session, chat)

            self.held.hold(channel_id, limit.delay, later)
            return 1
        return await self._send(message, session, chat)

    async def _send(self, message: discord.Message, session: int, chat: ChatMessage) -> int:
        channel_id = message.channel.id
        self.pending_ack[message.id] = message
        try:
            await self.send(session, chat)
        except (ValueError, TypeError, OverflowError, msgspec.EncodeError) as exc:
            self.pending_ack.pop(message.id, None)
            log.error("message %d cannot be forwarded, skipped: %s", message.id, exc)
            self.feedback.react(channel_id, message.id, REACTION["failed"])
            self.feedback.notice(
                channel_id,
                message.id,
                "❌ Not delivered to Claude: this message cannot be forwarded"
                f" ({type(exc).__name__}). Please send it again without unusual characters.",
                "failed",
            )
            return self._drop(message, "cannot be encoded")
        return 1

    async def _roles(self, message: discord.Message, session: int) -> tuple[int, ...] | None:
        """The author's roles; looked up when the message did not carry them (history)."""
        author = message.author
        if isinstance(author, discord.Member) or author.bot:
            return None
        if not self.access.needs_roles(author.id, session):
            return None
        guild = message.guild
        if guild is None:
            channel = self.client.get_channel(message.channel.id)
            guild = getattr(channel, "guild", None)
        if guild is None:
            return None
        key = (guild.id, author.id)
        cached = self._members.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < MEMBER_CACHE_SECONDS:
            return cached[1]
        member = guild.get_member(author.id)
        if member is None:
            try:
                member = await guild.fetch_member(author.id)
            except discord.HTTPException as exc:
                log.info("roles of user %d unknown: %s", author.id, exc)
                return None
        roles = tuple(role.id for role in member.roles)
        self._members[key] = (now, roles)
        return roles

    def acked(self, message_id: int) -> None:
        original = self.pending_ack.pop(message_id, None)
        if original is not None:
            self.feedback.react(original.channel.id, message_id, REACTION["received"])
