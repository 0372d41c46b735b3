"""Token buckets: how fast people may talk to Claude, per user and per session. Pure.

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


@dataclass(frozen=True)
class RateVerdict:
    ok: bool
    scope: Literal["", "user", "session"] = ""
    retry_in: float = 0.0
    notify: bool = False  # say so in the channel (at most once per `notice_every` per user)

    def notice(self, settings: RateSettings) -> str:
        wait = "a moment" if self.retry_in == float("inf") else f"{max(1, round(self.retry_in))} s"
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
        return (
            f"⏳ Slow down: {rule}. This message was **not** sent to Claude;"
            f" send it again in {wait}."
        )


class InboundLimiter:
    """Per-user and per-session buckets; a message needs a token from both."""

    def __init__(self, settings: RateSettings) -> None:
        self.settings = settings
        self._users: dict[int, TokenBucket] = {}
        self._sessions: dict[int, TokenBucket] = {}
        self._noticed: dict[int, float] = {}

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
        s = self.settings
        user = self._bucket(self._users, user_id, s.user_burst, s.user_per_minute)
        sess = self._bucket(self._sessions, session, s.session_burst, s.session_per_minute)
        for scope, bucket in (("user", user), ("session", sess)):
            if bucket is not None and bucket.available(now) + 1e-9 < 1.0:
                last = self._noticed.get(user_id)
                notify = last is None or now - last >= s.notice_every or now < last
                if notify:
                    self._noticed[user_id] = now
                return RateVerdict(
                    False,
                    "user" if scope == "user" else "session",
                    bucket.wait_time(now),
                    notify,
                )
        for bucket in (user, sess):
            if bucket is not None:
                bucket.take(now)
        return RateVerdict(True)
