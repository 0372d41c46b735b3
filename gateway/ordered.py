"""Per-channel ordered execution: posts to one channel go out one after another, in order.

Different channels proceed in parallel; a rate-limited channel never reorders its own
replies (discord.py waits out a 429 inside the call that hit it, and the outbound queue
retries inside the job). A job submitted with a `key` that is already waiting is dropped:
the waiting one reads the latest state when it runs (progress edits coalesce this way).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger("gateway.ordered")

Job = Callable[[], Awaitable[None]]


class OrderedChannels:
    def __init__(self) -> None:
        self._queues: dict[int, asyncio.Queue[tuple[str | None, Job]]] = {}
        self._runners: dict[int, asyncio.Task[None]] = {}
        self._waiting_keys: set[str] = set()
        self._busy: set[int] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, channel_id: int, job: Job, key: str | None = None) -> bool:
        """Queue `job` behind the channel's earlier jobs; False if coalesced away."""
        if key is not None:
            if key in self._waiting_keys:
                return False
            self._waiting_keys.add(key)
        queue = self._queues.get(channel_id)
        if queue is None:
            queue = self._queues[channel_id] = asyncio.Queue()
            self._runners[channel_id] = asyncio.create_task(self._run(channel_id, queue))
        queue.put_nowait((key, job))
        self._idle.clear()
        return True

    def pending(self, channel_id: int) -> int:
        queue = self._queues.get(channel_id)
        waiting = queue.qsize() if queue is not None else 0
        return waiting + (1 if channel_id in self._busy else 0)

    async def wait_idle(self) -> None:
        """Until every queued job has run (for shutdown and tests)."""
        await self._idle.wait()

    async def _run(self, channel_id: int, queue: asyncio.Queue[tuple[str | None, Job]]) -> None:
        while True:
            key, job = await queue.get()
            if key is not None:
                self._waiting_keys.discard(key)
            self._busy.add(channel_id)
            try:
                await job()
            except Exception:
                log.exception("an ordered job for channel %d failed", channel_id)
            finally:
                self._busy.discard(channel_id)
                if not self._busy and all(q.empty() for q in self._queues.values()):
                    self._idle.set()

    def close(self) -> None:
        for runner in self._runners.values():
            runner.cancel()
