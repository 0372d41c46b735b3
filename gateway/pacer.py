"""The bridge's global pace toward Discord, and its count of invalid requests.

discord.py paces each route from the `X-RateLimit-*` headers, but it knows nothing of the
global limit (50 requests/s per bot) until a global 429 arrives, and it does not count
invalid requests (401, 403 and 429 other than `X-RateLimit-Scope: shared`), of which
10,000 in 10 minutes earn a temporary ban. The pacer sits under discord.py, in an aiohttp
trace hook that every REST request awaits before it is sent, so *every* request (retries
and history reads included) takes a token from one bucket; interaction responses are
exempt, as on Discord, so a slash command is never late for its 3-second window.

`InvalidRequestGuard` is the pure bookkeeping; `Pacer` adds waiting and the hook.
"""

from __future__ import annotations

import asyncio
import collections
import heapq
import itertools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Literal

import aiohttp

from vai.gateway.ratelimit import TokenBucket

log = logging.getLogger("gateway.pacer")

Level = Literal["ok", "warn", "shed", "halt"]
INVALID_WINDOW = 600.0  # Discord counts invalid requests over 10 minutes
INVALID_STATUSES = (401, 403, 429)
NO_VIA_WAIT = 5.0  # a 429 without Via and without Retry-After
NEW_MESSAGE = re.compile(r"/channels/\d+/messages$")  # POST: a reply, an alert, a notice


class InvalidRequestGuard:
    """Invalid requests in the last 10 minutes, and what the bridge should do about them.

    Discord bans at 10,000; the bridge warns at `warn`, drops optional work (typing,
    progress edits) from `shed`, and stops sending anything from `halt` until the window
    has slid far enough.
    """

    def __init__(
        self, *, warn: int = 1000, shed: int = 2500, halt: int = 5000, window: float = 600.0
    ) -> None:
        self.warn, self.shed, self.halt, self.window = warn, shed, halt, window
        self._times: collections.deque[float] = collections.deque(maxlen=halt * 2)
        self.total = 0

    @staticmethod
    def is_invalid(status: int, scope: str = "") -> bool:
        if status == 429:
            return scope.lower() != "shared"
        return status in INVALID_STATUSES

    def record(self, now: float, status: int, scope: str = "") -> bool:
        """Counts a response; True if it was an invalid request."""
        if not self.is_invalid(status, scope):
            return False
        self._times.append(now)
        self.total += 1
        return True

    def count(self, now: float) -> int:
        while self._times and now - self._times[0] >= self.window:
            self._times.popleft()
        return len(self._times)

    def level(self, now: float) -> Level:
        count = self.count(now)
        if count >= self.halt:
            return "halt"
        if count >= self.shed:
            return "shed"
        if count >= self.warn:
            return "warn"
        return "ok"

    def halt_wait(self, now: float) -> float:
        """Seconds until the count is under `halt` again (0 when it is)."""
        count = self.count(now)
        if count < self.halt:
            return 0.0
        # The oldest entries leave first; enough of them must leave to get under halt.
        oldest_to_leave = self._times[count - self.halt]
        return max(0.0, oldest_to_leave + self.window - now)


@dataclass
class PacerStats:
    """What the pacer saw: for logs, `vai status` problems, tests and the burst bench."""

    sent: int = 0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    rate_limited: int = 0
    invalid: int = 0
    pauses: int = 0
    waited: float = 0.0


class Pacer:
    def __init__(
        self,
        rate: float = 40.0,
        burst: float = 10.0,
        guard: InvalidRequestGuard | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        backlog_limit: int = 80,
    ) -> None:
        self.enabled = rate > 0
        self.bucket = TokenBucket(max(burst, 1.0), rate)
        self.guard = guard or InvalidRequestGuard()
        self.clock, self.sleep = clock, sleep
        self.backlog_limit = backlog_limit
        self.paused_until = 0.0
        self.waiting = 0
        self.stats = PacerStats()
        self._queue: list[tuple[int, int]] = []  # (0 urgent / 1 not, arrival): the waiters
        self._tickets = itertools.count()
        self._head_changed = asyncio.Event()
        self._last_level: Level = "ok"
        # Told when the invalid-request level changes: (level, count in the window).
        self.on_level: Callable[[Level, int], None] | None = None

    # -- waiting for a token ------------------------------------------------------------------

    async def acquire(self, urgent: bool = False) -> None:
        """Wait for the global bucket (and any pause, and a halt). Urgent requests (new
        messages: replies, alerts) go before the others, FIFO within each kind, so a
        reply never queues behind a backlog of reactions and typing."""
        self.waiting += 1
        started = self.clock()
        ticket = (0 if urgent else 1, next(self._tickets))
        heapq.heappush(self._queue, ticket)
        try:
            while True:
                if self._queue[0] != ticket:
                    await self._head_changed.wait()
                    continue
                now = self.clock()
                wait = max(
                    self.paused_until - now,
                    self.guard.halt_wait(now),
                    self.bucket.wait_time(now) if self.enabled else 0.0,
                )
                if wait <= 0:
                    if self.enabled:
                        self.bucket.take(now)
                    return
                await self.sleep(wait)  # an urgent newcomer may be the head when it ends
        finally:
            self._queue.remove(ticket)
            heapq.heapify(self._queue)
            self._head_changed.set()
            self._head_changed = asyncio.Event()
            self.waiting -= 1
            self.stats.waited += self.clock() - started

    def pause(self, seconds: float, reason: str) -> None:
        """Nothing is sent for `seconds` (a 429 told us so)."""
        until = self.clock() + max(0.0, seconds)
        if until > self.paused_until:
            self.paused_until = until
            self.stats.pauses += 1
            log.warning("pausing every request to Discord for %.2fs: %s", seconds, reason)

    def shedding(self) -> bool:
        """Whether optional work (typing, progress edits) should be dropped right now."""
        now = self.clock()
        return (
            self.paused_until > now
            or self.waiting >= self.backlog_limit
            or self.guard.level(now) in ("shed", "halt")
        )

    # -- what came back -----------------------------------------------------------------------

    def observe(self, status: int, headers: Mapping[str, str]) -> None:
        now = self.clock()
        self.stats.statuses[status] += 1
        scope = headers.get("X-RateLimit-Scope", "")
        if self.guard.record(now, status, scope):
            self.stats.invalid += 1
        if status == 429:
            self.stats.rate_limited += 1
            if headers.get("X-RateLimit-Global", "").lower() == "true" or scope == "global":
                self.pause(retry_after(headers, 1.0), "global rate limit")
            elif not headers.get("Via"):
                # Not Discord's own limiter (Cloudflare, or a ban): everything stops at once.
                self.pause(retry_after(headers, NO_VIA_WAIT), "429 without Via")
        level = self.guard.level(now)
        if level != self._last_level:
            count = self.guard.count(now)
            log.warning(
                "%d invalid requests (401/403/429) in the last 10 minutes: %s",
                count,
                {
                    "ok": "back to normal",
                    "warn": "Discord bans at 10,000",
                    "shed": "dropping typing and progress edits",
                    "halt": "sending nothing until the count falls",
                }[level],
            )
            self._last_level = level
            if self.on_level is not None:
                self.on_level(level, count)

    # -- the aiohttp hook ---------------------------------------------------------------------

    def paced(self, url: str, api_base: str) -> bool:
        if not url.startswith(api_base):
            return False  # the gateway websocket, attachments, anything not the REST API
        path = url[len(api_base) :]
        return not path.startswith(("/interactions/", "/webhooks/"))

    def trace_config(self, api_base: Callable[[], str]) -> aiohttp.TraceConfig:
        """Hook for `discord.Client(http_trace=...)`; `api_base` is read at each request."""
        trace = aiohttp.TraceConfig()

        async def on_start(
            session: aiohttp.ClientSession,
            context: SimpleNamespace,
            params: aiohttp.TraceRequestStartParams,
        ) -> None:
            url = str(params.url)
            context.counted = url.startswith(api_base())
            if self.paced(url, api_base()):
                await self.acquire(urgent=params.method == "POST" and bool(NEW_MESSAGE.search(url)))
            if context.counted:
                self.stats.sent += 1

        async def on_end(
            session: aiohttp.ClientSession,
            context: SimpleNamespace,
            params: aiohttp.TraceRequestEndParams,
        ) -> None:
            if getattr(context, "counted", False):
                self.observe(params.response.status, params.response.headers)

        trace.on_request_start.append(on_start)
        trace.on_request_end.append(on_end)
        return trace


def retry_after(headers: Mapping[str, str], default: float) -> float:
    """How long a 429 asks us to wait, from its headers."""
    for name in ("X-RateLimit-Reset-After", "Retry-After"):
        value = headers.get(name)
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                continue
    return default
