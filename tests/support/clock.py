"""The one fake clock for timing logic: read by calling it, moved by `advance` or `sleep`.

Policies take `clock: Callable[[], float]` (and sometimes an async `sleep`); tests pass
this instead of time.monotonic / asyncio.sleep, so no test waits for real time to pass.
"""

from __future__ import annotations


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        """An asyncio.sleep that returns at once, having moved the clock."""
        self.slept.append(seconds)
        self.now += seconds
