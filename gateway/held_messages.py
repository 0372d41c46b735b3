"""Messages that wait for the rate limit, sent later in channel order.

The limiter (gateway/ratelimit.py) says how long a message over the limit must wait; it
waits here rather than in the channel's lock, so the messages after it are judged (and
counted against the queue's cap) as they arrive, and then queue behind it: a channel's
messages reach the supervisor in channel order, whatever waited. Nothing here is
durable: a gateway that dies with messages waiting reads them again from the channel's
history when it comes back (the supervisor's newest message is older than all of them).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable

log = logging.getLogger("gateway.inbound")

Job = Callable[[], Awaitable[None]]


class HeldMessages:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._queues: dict[int, collections.deque[tuple[float, Job]]] = {}
        self._drains: dict[int, asyncio.Task[None]] = {}

    def waiting(self, channel_id: int) -> int:
        return len(self._queues.get(channel_id, ()))

    def hold(self, channel_id: int, delay: float, job: Job) -> None:
        """Run `job` in `delay` seconds, after every job held before it in this channel."""
        queue = self._queues.setdefault(channel_id, collections.deque())
        queue.append((self.clock() + delay, job))
        drain = self._drains.get(channel_id)
        if drain is None or drain.done():
            self._drains[channel_id] = asyncio.create_task(self._drain(channel_id))

    async def _drain(self, channel_id: int) -> None:
        queue = self._queues[channel_id]
        while queue:
            send_at, job = queue[0]
            wait = send_at - self.clock()
            if wait > 0:
                await asyncio.sleep(wait)
            queue.popleft()
            try:
                await job()
            except Exception:  # one message must not stop the others
                log.exception("a held message could not be forwarded")
        self._queues.pop(channel_id, None)

    def close(self) -> None:
        for task in self._drains.values():
            task.cancel()
        self._drains.clear()
        self._queues.clear()
