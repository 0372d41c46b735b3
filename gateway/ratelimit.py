"""Token buckets: how fast people may talk to Claude, per user and per session. Pure.

A message over the limit is queued, not dropped (what a person expects): it takes a token
on credit and goes to Claude once the bucket has refilled to it, in order (`delay`). Only
a flood beyond `queue` messages waiting on credit is refused, and the sender is told it
was NOT sent. `queue = 0` refuses at once, as a strict limiter does.

Time is passed in (`now`, seconds on any monotonic-ish clock), so every rule is tested
without sleeping. The inbound limiter is fed Discord's own message timestamps, so
messages read back from history after a gateway restart are judged by when they were
posted, not by when the gateway got round to them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass
class TokenBucket:
    """`capacity` tokens, refilled at `rate` tokens per second; one token per message."""

    capacity: float
    rate: float
    tokens: float = field(default=-1.0)
    updated: float | None = None

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.capacity

    def _refill(self, now: float) -> None:
        if self.updated is not None and now > self.updated:
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        if self.updated is None or now > self.updated:
            self.updated = now

    def available(self, now: float) -> float:
        self._refill(now)
        return self.tokens

    def take(self, now: float, count: float = 1.0) -> bool:
        self._refill(now)
        if self.tokens + 1e-9 < count:
            return False
        self.tokens -= count
        return True

    def room(self, now: float, credit: float) -> bool:
        """Whether one more token can be taken with at most `credit` tokens owed."""
        self._refill(now)
        return self.tokens - 1.0 >= -credit - 1e-9

    def take_on_credit(self, now: float) -> float:
        """Take a token even if it is not there yet; seconds until it will have been."""
        self._refill(now)
        self.tokens -= 1.0
        if self.tokens >= -1e-9:
            return 0.0
        return float("inf") if self.rate <= 0 else -self.tokens / self.rate

    def wait_time(self, now: float, count: float = 1.0) -> float:
        """Seconds until `count` tokens are there (0 if they are now; inf if never)."""
        self._refill(now)
        missing = count - self.tokens
        if missing <= 1e-9:
            return 0.0
        if self.rate <= 0 or count > self.capacity:
            return float("inf")
        return missing / self.rate


@dataclass(frozen=True)
class RateSettings:
    """Messages per minute and burst, per user and per session; 0 burst = no limit."""

    user_burst: int = 600
    user_per_minute: float = 300.0
    session_burst: int = 600
    session_per_minute: float = 300.0
    notice_every: float = 60.0
    # Messages that may wait for the limit, per user and per session; beyond: refused.
    queue: int = 20


Scope = Literal["", "user", "session"]


@dataclass(frozen=True)
class RateVerdict:
    ok: bool
    scope: Scope = ""
    retry_in: float = 0.0
    notify: bool = False  # say so in the channel (at most once per `notice_every` per user)
    delay: float = 0.0  # ok, but it goes to Claude only this many seconds from now

    def queued_notice(self, settings: RateSettings) -> str:
        wait = "a while" if self.delay == float("inf") else f"{max(1, round(self.delay))} s"
        return (
            f"⏳ {self._rule(settings)[0].upper()}{self._rule(settings)[1:]}: this message waits"
            f" and goes to Claude in order, in about {wait}. Nothing is lost."
        )

    def notice(self, settings: RateSettings) -> str:
        wait = "a moment" if self.retry_in == float("inf") else f"{max(1, round(self.retry_in))} s"
        held = f" and {settings.queue} already wait" if settings.queue > 0 else ""
        return (
            f"⏳ Slow down: {self._rule(settings)}{held}. This message was **not** sent to"
            f" Claude; send it again in {wait}."
        )

    def _rule(self, settings: RateSettings) -> str:
        if self.scope == "user":
            rule = (
                f"at most {settings.user_burst} messages at once and"
                f" {settings.user_per_minute:g} a minute per person"
            )
        else:
            rule = (
                f"at most {settings.session_burst} messages at once and"
                f" {settings.session_per_minute:g} a minute for this session"
            )
        return rule


class InboundLimiter:
    """Per-user and per-session buckets; a message needs a token from both."""

    def __init__(self, settings: RateSettings) -> None:
        self.settings = settings
        self._users: dict[int, TokenBucket] = {}
        self._sessions: dict[int, TokenBucket] = {}
        self._noticed: dict[tuple[int, str], float] = {}

    def reconfigure(self, settings: RateSettings) -> None:
        """New limits (vai.toml reloaded): every bucket starts afresh, full."""
        self.settings = settings
        self._users.clear()
        self._sessions.clear()

    def _bucket(
        self, table: dict[int, TokenBucket], key: int, burst: int, per_minute: float
    ) -> TokenBucket | None:
        if burst <= 0:
            return None
        bucket = table.get(key)
        if bucket is None:
            bucket = table[key] = TokenBucket(float(burst), per_minute / 60.0)
        return bucket

    def check(self, user_id: int, session: int, now: float) -> RateVerdict:
        """Within the limits (delay 0), queued (ok with a delay), or refused (not ok)."""
        s = self.settings
        user = self._bucket(self._users, user_id, s.user_burst, s.user_per_minute)
        sess = self._bucket(self._sessions, session, s.session_burst, s.session_per_minute)
        pairs: tuple[tuple[Scope, TokenBucket | None], ...] = (("user", user), ("session", sess))
        scopes = [(scope, bucket) for scope, bucket in pairs if bucket is not None]
        credit = float(max(0, s.queue))
        for scope, bucket in scopes:
            if not bucket.room(now, credit):
                return RateVerdict(False, scope, bucket.wait_time(now, 1.0 - credit),
                                   self._notify(user_id, now, "refused"))  # fmt: skip
        delays = [(bucket.take_on_credit(now), scope) for scope, bucket in scopes]
        delay, scope = max(delays, default=(0.0, ""))
        if delay <= 0:
            return RateVerdict(True)
        return RateVerdict(True, scope, notify=self._notify(user_id, now, "queued"), delay=delay)

    def _notify(self, user_id: int, now: float, kind: str) -> bool:
        """Say so in the channel at most once per `notice_every` per user and kind (that
        messages wait; that one was refused)."""
        last = self._noticed.get((user_id, kind))
        notify = last is None or now - last >= self.settings.notice_every or now < last
        if notify:
            self._noticed[(user_id, kind)] = now
        return notify
