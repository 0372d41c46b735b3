"""Discord-style rate limits for the local server: per-route buckets, a global limit, forced 429s.

discord.py reads ``X-RateLimit-*`` headers to pace itself before it is limited, and retries a 429
only when the response has a ``Via`` header and a JSON body with ``retry_after``. Reproducing both
lets tests prove the bridge survives real limits; :meth:`RateLimiter.inject` forces 429s (with or
without ``Via``) where natural limits would be too slow to reach.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

# (method, route template relative to the API base) -> (requests, per seconds).
DEFAULT_ROUTE_LIMITS: dict[tuple[str, str], tuple[int, float]] = {
    ("POST", "/channels/{channel_id}/messages"): (5, 5.0),
}
DEFAULT_LIMIT = (50, 1.0)
GLOBAL_LIMIT = (50, 1.0)
MAX_BUCKETS = 10_000
_MESSAGE = "You are being rate limited."


@dataclass
class Verdict:
    """Whether a request may proceed, and the headers its response carries either way."""

    allowed: bool
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: float = 0.0
    global_: bool = False

    def body(self) -> dict[str, Any]:
        return {"message": _MESSAGE, "retry_after": self.retry_after, "global": self.global_}


@dataclass
class _Window:
    limit: int
    per: float
    remaining: int = 0
    reset_at: float = 0.0

    def take(self, now: float) -> bool:
        if now >= self.reset_at:
            self.remaining, self.reset_at = self.limit, now + self.per
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True


@dataclass
class _Injection:
    method: str
    pattern: re.Pattern[str]
    count: int
    retry_after: float
    via: bool
    global_: bool


def _limited(retry_after: float, *, via: bool, global_: bool) -> Verdict:
    retry_after = round(max(retry_after, 0.001), 3)
    headers = {"Retry-After": str(math.ceil(retry_after))}
    headers["X-RateLimit-Scope"] = "global" if global_ else "user"
    if global_:
        headers["X-RateLimit-Global"] = "true"
    if via:
        headers["Via"] = "1.1 google"
    return Verdict(False, headers, retry_after, global_)


class RateLimiter:
    """Fixed-window buckets keyed by route and major parameter, like Discord's."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        route_limits: Mapping[tuple[str, str], tuple[int, float]] | None = None,
        default_limit: tuple[int, float] = DEFAULT_LIMIT,
        global_limit: tuple[int, float] = GLOBAL_LIMIT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.enabled = enabled
        self.route_limits = dict(DEFAULT_ROUTE_LIMITS if route_limits is None else route_limits)
        self.default_limit = default_limit
        self.clock = clock
        self._global = _Window(*global_limit)
        self._buckets: dict[str, _Window] = {}
        self._injections: list[_Injection] = []

    def inject(
        self,
        method: str,
        path_regex: str,
        count: int = 1,
        retry_after: float = 0.1,
        *,
        via: bool = True,
        global_: bool = False,
    ) -> None:
        """Answers the next ``count`` matching requests (``re.search`` on the path) with 429."""
        pattern = re.compile(path_regex)
        self._injections.append(
            _Injection(method.upper(), pattern, count, retry_after, via, global_)
        )

    def injected(self, method: str, path: str) -> Verdict | None:
        for rule in self._injections:
            if rule.count > 0 and rule.method in (method, "*") and rule.pattern.search(path):
                rule.count -= 1
                return _limited(rule.retry_after, via=rule.via, global_=rule.global_)
        return None

    def check(self, method: str, template: str, major: str, *, counts_global: bool) -> Verdict:
        """Takes one request from the global window and the route's bucket."""
        if not self.enabled:
            return Verdict(True)
        now = self.clock()
        if counts_global and not self._global.take(now):
            return _limited(self._global.reset_at - now, via=True, global_=True)
        limit, per = self.route_limits.get((method, template), self.default_limit)
        route = f"{method} {template}"
        bucket = self._buckets.get(f"{route}|{major}")
        if bucket is None and len(self._buckets) >= MAX_BUCKETS:  # interaction tokens add up
            self._buckets = {k: b for k, b in self._buckets.items() if b.reset_at > now}
        if bucket is None:
            bucket = self._buckets[f"{route}|{major}"] = _Window(limit, per)
        allowed = bucket.take(now)
        reset_after = math.ceil((bucket.reset_at - now) * 1000) / 1000
        headers = {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(bucket.remaining),
            "X-RateLimit-Reset": f"{bucket.reset_at:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": hashlib.sha1(route.encode()).hexdigest()[:16],
        }
        if allowed:
            return Verdict(True, headers)
        verdict = _limited(reset_after, via=True, global_=False)
        verdict.headers = headers | verdict.headers
        return verdict
