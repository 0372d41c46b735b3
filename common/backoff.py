"""The one exponential backoff: base * 2**(n-1) for the n-th retry, capped, optionally jittered.

Used for child restarts (the seed design's 1, 2, 4 s), Discord REST retries, 429s without
Retry-After, and login retries. Pure: the random source is injected for tests.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    base: float = 1.0
    cap: float = 30.0
    # Each delay is spread by up to +-jitter (a fraction) so peers do not retry in step.
    jitter: float = 0.0
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, retry: int) -> float:
        """Seconds to wait before the `retry`-th retry (1 for the first)."""
        raw = min(self.cap, self.base * 2.0 ** max(retry - 1, 0))
        if not self.jitter:
            return raw
        spread: float = self.rng.uniform(-self.jitter, self.jitter)
        return raw * (1 + spread)
