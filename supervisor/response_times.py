"""Response time per session: prompt accepted -> its turn's end, from the worker's reports.

Pure, clock injected. Only the last `window` turns count toward the average, and accepted
prompts still waiting for their turn's end are bounded (the oldest are forgotten).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

# Accepted prompts waiting for their turn's end; older ones are forgotten (bounded memory).
MAX_PENDING_PROMPTS = 10_000


class ResponseTimes:
    def __init__(self, clock: Callable[[], float], window: int) -> None:
        self._clock = clock
        self._window = max(1, window)
        self._accepted: dict[int, tuple[int, float]] = {}
        self._times: dict[int, deque[float]] = {}
        self._turns: dict[int, int] = {}

    def prompt_accepted(self, session: int, message_id: int) -> None:
        if len(self._accepted) >= MAX_PENDING_PROMPTS:
            self._accepted.pop(next(iter(self._accepted)))
        self._accepted.setdefault(message_id, (session, self._clock()))

    def turn_ended(self, session: int, message_ids: list[int]) -> None:
        now = self._clock()
        for message_id in message_ids:
            start = self._accepted.pop(message_id, None)
            if start is None or start[0] != session:
                continue
            times = self._times.setdefault(session, deque(maxlen=self._window))
            times.append((now - start[1]) * 1000.0)
            self._turns[session] = self._turns.get(session, 0) + 1

    def figures(self, session: int) -> tuple[float | None, float | None]:
        """(average, last) in milliseconds, None before the first turn."""
        times = self._times.get(session)
        if not times:
            return None, None
        return round(sum(times) / len(times), 1), round(times[-1], 1)

    def turns(self, session: int) -> int:
        return self._turns.get(session, 0)

    def forget(self, session: int) -> None:
        self._times.pop(session, None)
        self._turns.pop(session, None)
        for message_id in [m for m, (s, _) in self._accepted.items() if s == session]:
            del self._accepted[message_id]
