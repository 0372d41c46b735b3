"""When a choice nobody answers reminds the person it waits for: pure timing, one reminder.

A permission prompt, Claude's question or a start-up dialog pings the author of the
message whose turn asks (gateway/choices.py). If it is still open after the reminder
delay, it pings them once more, and never again: not after an answer, an expiry or a
withdrawal, and not twice for one request (a re-offer of the same request finds it
planned or done). The state lives in the gateway's memory only: a restarted gateway,
offered the open choices again, plans each one afresh (at most one more reminder each).
"""

from __future__ import annotations

import time
from collections.abc import Callable

# How many finished requests are remembered (so a late re-offer is not reminded again).
KEEP_DONE = 1024


def reminder_delay(setting: float, timeout_s: float) -> float | None:
    """Seconds from the post to the reminder, or None for no reminder.

    `setting` is `[discord] wait_reminder_s` (0: never). A reminder must come before the
    expiry closes the choice: a setting that is not sooner than the choice's timeout
    gives way to half the timeout (the default 150 s is half of the default 300 s).
    """
    if setting <= 0 or timeout_s <= 0:
        return None
    return setting if setting < timeout_s else timeout_s / 2


class WaitReminders:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._due: dict[str, float] = {}  # request id -> when (on the clock)
        self._done: dict[str, None] = {}  # reminded or closed, oldest first

    def plan(self, request_id: str, delay: float | None) -> bool:
        """Remind about `request_id` after `delay` seconds (None: never); False when it is
        already planned, was reminded or closed, or needs no reminder."""
        if delay is None or request_id in self._due or request_id in self._done:
            return False
        self._due[request_id] = self.clock() + delay
        return True

    def close(self, request_id: str) -> None:
        """Answered, expired or withdrawn: no reminder from now on."""
        self._due.pop(request_id, None)
        self._finish(request_id)

    def due(self) -> list[str]:
        """The requests whose reminder is due now, each only once, earliest first."""
        now = self.clock()
        ready = sorted((at, rid) for rid, at in self._due.items() if now >= at)
        for _, request_id in ready:
            del self._due[request_id]
            self._finish(request_id)
        return [request_id for _, request_id in ready]

    def next_due(self) -> float | None:
        return min(self._due.values()) if self._due else None

    def planned(self, request_id: str) -> bool:
        return request_id in self._due

    def _finish(self, request_id: str) -> None:
        self._done[request_id] = None
        while len(self._done) > KEEP_DONE:
            del self._done[next(iter(self._done))]
