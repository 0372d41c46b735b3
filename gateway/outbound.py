"""One outbound queue for every session: ordered per channel, paced globally, careful on errors.

Jobs for one channel run in order (gateway.ordered; reactions in a lane of their own, so a
reply never waits behind them); each Discord call inside a job goes
through `Outbound.call`, which adds what discord.py lacks:

- discord.py retries a 429 itself only when the response has a `Via` header (Discord's
  own); a 429 without it (Cloudflare, or a ban) raises at once. Here that pauses *every*
  request for the time the response asked (`Retry-After`; growing when absent), then the
  call is tried again: never blindly, never a storm.
- A connection that drops mid-request leaves us not knowing whether Discord acted. Calls
  marked idempotent (a message with a nonce that Discord enforces, a reaction, an edit)
  are retried after a capped backoff; the nonce makes a repeated post a no-op.
- Optional work (typing, progress edits) is dropped, not queued, while the pacer says
  Discord is pushing back.

Global pacing and the invalid-request count live in gateway.pacer, under discord.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
import discord

from vai.common.backoff import Backoff
from vai.gateway.ordered import Job, OrderedChannels
from vai.gateway.pacer import Pacer, retry_after

log = logging.getLogger("gateway.outbound")

T = TypeVar("T")
RETRY = Backoff(base=0.5, cap=30.0)
# A 429 without Retry-After: wait 5 s, doubling each time.
NO_VIA = Backoff(base=5.0, cap=600.0)


class Shed(Exception):
    """Optional work dropped because Discord is pushing back."""


class Outbound:
    def __init__(
        self,
        pacer: Pacer,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_attempts: int = 0,
    ) -> None:
        """`max_attempts` bounds retries of required work (0: until it goes through)."""
        self.pacer = pacer
        self.sleep = sleep
        self.max_attempts = max_attempts
        self.lanes = OrderedChannels()
        self.marks = OrderedChannels()
        self._no_via_streak = 0

    def submit(self, channel_id: int, job: Job, key: str | None = None) -> bool:
        return self.lanes.submit(channel_id, job, key)

    def submit_mark(self, channel_id: int, job: Job) -> None:
        """Reactions: ordered among themselves per channel, but never ahead of a reply
        (Discord limits reactions per channel far more tightly than messages)."""
        self.marks.submit(channel_id, job)

    async def call(
        self,
        fn: Callable[[], Awaitable[T]],
        *,
        what: str,
        optional: bool = False,
        idempotent: bool = True,
    ) -> T:
        """Run one Discord call with the rules above; raises what cannot be fixed by waiting."""
        attempt = 0
        while True:
            if optional and self.pacer.shedding():
                raise Shed(what)
            try:
                result = await fn()
                self._no_via_streak = 0
                return result
            except discord.RateLimited as exc:
                # discord.py would have slept longer than max_ratelimit_timeout.
                self.pacer.pause(exc.retry_after, f"{what}: rate limited")
                wait = 0.0
                error: Exception = exc
            except discord.HTTPException as exc:
                if exc.status == 429:
                    self._no_via_streak += 1
                    default = NO_VIA.delay(self._no_via_streak)
                    headers = exc.response.headers if exc.response is not None else {}
                    self.pacer.pause(
                        max(retry_after(headers, default), 0.05), f"{what}: 429 without Via"
                    )
                    wait = 0.0
                elif exc.status >= 500 and idempotent:
                    wait = RETRY.delay(attempt + 1)
                else:
                    raise
                error = exc
            except (aiohttp.ClientConnectionError, TimeoutError) as exc:
                if not idempotent:
                    raise
                wait = RETRY.delay(attempt + 1)
                error = exc
            attempt += 1
            if optional or (self.max_attempts and attempt >= self.max_attempts):
                raise error
            log.warning(
                "%s failed (%s); attempt %d in %.1fs", what, _describe(error), attempt + 1, wait
            )
            if wait:
                await self.sleep(wait)

    async def wait_idle(self) -> None:
        await self.lanes.wait_idle()
        await self.marks.wait_idle()

    def close(self) -> None:
        self.lanes.close()
        self.marks.close()


def _describe(error: Exception) -> str:
    if isinstance(error, discord.HTTPException):
        return f"{error.status} {error.text or type(error).__name__}"
    return f"{type(error).__name__}: {error}"
