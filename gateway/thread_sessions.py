"""A session per Discord thread, in channels whose session has threads on.

A thread made in such a channel (THREAD_CREATE), or the first message in one that has
no session yet, asks the supervisor for a thread session (AddThreadSession on the
control link; the supervisor makes the git worktree and starts the worker). Until the
session exists, the thread's live messages are held by Inbound; once it does, the
thread's history since its start is caught up, so nothing written meanwhile is lost.
A thread archived or deleted ends its session (EndThreadSession). What the supervisor
says (the worktree, a limit reached, a worktree kept because it has changes) is posted
in the thread, or in the parent channel when the thread is gone. After a gateway outage
the active threads (GUILD_CREATE lists them) get their sessions the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord

from vai.common.tasks import Background
from vai.gateway.control import ControlClient, ControlError
from vai.gateway.inbound import InboundForwarder
from vai.gateway.routing import Router
from vai.protocol.messages import OkReply
from vai.protocol.session_requests import AddThreadSession, EndThreadSession

log = logging.getLogger("gateway.threads")

ADD_THREAD_TIMEOUT = 90.0  # a git worktree, then the worker's start
END_THREAD_TIMEOUT = 90.0
Post = Callable[[int, str], Awaitable[None]]


class ThreadSessions:
    def __init__(
        self,
        client: discord.Client,
        control: ControlClient,
        router: Router,
        inbound: InboundForwarder,
        post: Post,
    ) -> None:
        self.client = client
        self.control = control
        self.router = router
        self.inbound = inbound
        self.post = post
        self.opening: set[int] = set()
        self.tasks = Background(log)

    def wanted(self, thread_id: int, parent_id: int | None) -> bool:
        """A thread with no session yet, in a channel whose session has threads on."""
        return (
            parent_id is not None
            and self.router.threads_on(parent_id)
            and self.router.own_session(thread_id) is None
        )

    # -- events --------------------------------------------------------------------------------

    def on_thread_create(self, thread: discord.Thread) -> None:
        if self.wanted(thread.id, thread.parent_id):
            self.open(thread.id, thread.parent_id, thread.name)

    def on_message(self, message: discord.Message) -> None:
        """Before Inbound sees it: a message in a thread that should have a session opens
        one (the message is held meanwhile)."""
        channel = message.channel
        if message.author.bot:  # never our own notes (a refusal would ask again, forever)
            return
        if isinstance(channel, discord.Thread) and self.wanted(channel.id, channel.parent_id):
            self.open(channel.id, channel.parent_id, channel.name)

    def on_map(self) -> None:
        """After a (re)connect and a new session map: active threads that should have
        sessions and have none (made while the gateway was away) get them."""
        for guild in self.client.guilds:
            for thread in guild.threads:
                if not thread.archived and self.wanted(thread.id, thread.parent_id):
                    self.open(thread.id, thread.parent_id, thread.name)

    def on_raw_thread_update(self, payload: discord.RawThreadUpdateEvent) -> None:
        metadata = payload.data.get("thread_metadata") or {}
        if metadata.get("archived") and self.router.own_session(payload.thread_id) is not None:
            self.tasks.spawn(self._end(payload.thread_id, payload.parent_id, deleted=False))

    def on_raw_thread_delete(self, payload: discord.RawThreadDeleteEvent) -> None:
        if self.router.own_session(payload.thread_id) is not None:
            self.tasks.spawn(self._end(payload.thread_id, payload.parent_id, deleted=True))

    # -- work ------------------------------------------------------------------------------------

    def open(self, thread_id: int, parent_id: int, name: str) -> None:
        if thread_id in self.opening:
            return
        self.opening.add(thread_id)
        self.inbound.hold(thread_id)  # synchronously: before this message's own handling
        self.tasks.spawn(self._open(thread_id, parent_id, name))

    async def _open(self, thread_id: int, parent_id: int, name: str) -> None:
        request = AddThreadSession(
            thread_id=thread_id, parent_channel_id=parent_id, name=name, after=thread_id
        )
        try:
            reply = await self.control.request(request, ADD_THREAD_TIMEOUT)
        except ControlError as exc:
            log.info("no session for thread %d: %s", thread_id, exc)
            self.inbound.release(thread_id)
            await self._say(thread_id, parent_id, f"⚠️ No Claude session for this thread: {exc}")
            return
        finally:
            self.opening.discard(thread_id)
        # The route is known by now (the map goes out before the worker starts).
        await self._join(thread_id)
        await self.inbound.open_channel(thread_id, after=thread_id)
        if isinstance(reply, OkReply) and reply.text:
            await self._say(thread_id, parent_id, f"🧵 {reply.text}")

    async def _join(self, thread_id: int) -> None:
        """The bot becomes a member of its session's thread (it then gets every event of it,
        and people see it there)."""
        thread = self.client.get_channel(thread_id)
        if isinstance(thread, discord.Thread) and thread.me is None:
            try:
                await thread.join()
            except discord.HTTPException as exc:
                log.warning("could not join thread %d: %s", thread_id, exc)

    async def _end(self, thread_id: int, parent_id: int, *, deleted: bool) -> None:
        try:
            reply = await self.control.request(
                EndThreadSession(thread_id=thread_id, deleted=deleted), END_THREAD_TIMEOUT
            )
        except ControlError as exc:
            log.warning("thread %d: its session did not end: %s", thread_id, exc)
            return
        note = reply.text if isinstance(reply, OkReply) else ""
        if note:
            # Posting in an archived thread would bring it back: the parent hears it.
            await self._say(parent_id, parent_id, f"🧵 <#{thread_id}>: {note}")

    async def _say(self, channel_id: int, fallback: int, text: str) -> None:
        for target in dict.fromkeys((channel_id, fallback)):
            try:
                await self.post(target, text)
                return
            except discord.HTTPException as exc:
                log.warning("could not post in %d: %s", target, exc)
