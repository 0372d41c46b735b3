"""Catching up on messages posted while the gateway was away, without reordering.

After every fresh gateway session (a full reconnect loses events) and for every newly
mapped channel, the channel's history after the newest message the bridge already has is
forwarded first; live messages of that channel are held until then, so the supervisor
receives each channel's messages in order, and each once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable

import discord

from protocol.messages import SessionMap

log = logging.getLogger("gateway.catch_up")

Forward = Callable[[discord.Message], Awaitable[int]]
History = Callable[[int, int], AsyncIterator[discord.Message]]


class CatchUp:
    def __init__(
        self, forward: Forward, history: History, oldest_allowed: Callable[[], int]
    ) -> None:
        self._forward = forward
        self._history = history
        self._oldest_allowed = oldest_allowed
        self._known_last: dict[int, int] = {}
        self._last_seen: dict[int, int] = {}
        self._caught_up: set[int] = set()
        self._held: dict[int, list[discord.Message]] = {}
        self._mapped: set[int] | None = None
        self._lock = asyncio.Lock()

    def update_map(self, session_map: SessionMap) -> None:
        self._mapped = {route.channel_id for route in session_map.routes}
        for route in session_map.routes:
            self._known_last[route.channel_id] = max(
                route.last_message_id, self._known_last.get(route.channel_id, 0)
            )

    def reset(self) -> None:
        """A new gateway session: events may have been missed in every channel."""
        self._caught_up.clear()

    def hold(self, message: discord.Message) -> bool:
        """Keep a live message back while its channel has not caught up yet."""
        channel_id = message.channel.id
        if self._mapped is not None and channel_id not in self._mapped:
            return False
        if channel_id in self._caught_up:
            return False
        self._held.setdefault(channel_id, []).append(message)
        return True

    def is_new(self, message: discord.Message) -> bool:
        """True the first time a message is seen (history and live events overlap)."""
        channel_id = message.channel.id
        if message.id <= self._last_seen.get(channel_id, 0):
            return False
        self._last_seen[channel_id] = message.id
        return True

    async def run(self, channels: Iterable[int]) -> None:
        async with self._lock:
            for channel_id in channels:
                if channel_id not in self._caught_up:
                    await self._catch_up(channel_id)

    async def _catch_up(self, channel_id: int) -> None:
        after = max(self._last_seen.get(channel_id, 0), self._known_last.get(channel_id, 0))
        count = 0
        if after:
            try:
                async for message in self._history(channel_id, max(after, self._oldest_allowed())):
                    count += await self._forward(message)
            except discord.HTTPException as exc:
                log.warning("catching up on channel %d failed: %s", channel_id, exc)
        self._caught_up.add(channel_id)
        for message in sorted(self._held.pop(channel_id, []), key=lambda m: m.id):
            count += await self._forward(message)
        if count:
            log.info("caught up on %d messages in channel %d", count, channel_id)
