"""Per-channel ordered execution: posts to one channel go out one after another, in order.

Different channels proceed in parallel; a rate-limited channel never reorders its own
replies (discord.py waits out a 429 inside the call that hit it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("gateway.ordered")

Job = Callable[[], Awaitable[None]]


class OrderedChannels:
    def __init__(self) -> None:
        self._queues: dict[int, asyncio.Queue[Job]] = {}
        self._runners: dict[int, asyncio.Task[None]] = {}

    def submit(self, channel_id: int, job: Job) -> None:
        queue = self._queues.get(channel_id)
        if queue is None:
            queue = self._queues[channel_id] = asyncio.Queue()
            self._runners[channel_id] = asyncio.create_task(self._run(queue))
        queue.put_nowait(job)

    async def _run(self, queue: asyncio.Queue[Job]) -> None:
        while True:
            job = await queue.get()
            try:
                await job()
            except Exception:
                log.exception("an ordered channel job failed")

    def close(self) -> None:
        for runner in self._runners.values():
            runner.cancel()
