"""Who is alive on the hub ↔ host link: heartbeats both ways, Paranoid Pirate style. Pure.

Each side sends a heartbeat every `interval` seconds when it has sent nothing else, and
counts the other side alive while it hears anything from it; after `liveness` intervals of
silence the link is down. The host then drops its connection and reconnects after a
backoff (common/backoff.py), since a half-open TCP connection may never come back on its
own; the hub just waits for the host to come back (it never connects out).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from vai.common.backoff import Backoff

LIVENESS = 3


@dataclass
class LinkLiveness:
    clock: Callable[[], float]
    interval: float = 1.0
    liveness: int = LIVENESS
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.5, cap=8.0, jitter=0.2))
    up: bool = False
    last_heard: float = 0.0
    last_sent: float = 0.0
    retries: int = 0  # reconnects since the link was last up
    reconnect_at: float | None = None

    def heard(self) -> bool:
        """A frame came from the peer; True when that brings the link up."""
        self.last_heard = self.clock()
        self.retries = 0
        self.reconnect_at = None
        came_up = not self.up
        self.up = True
        return came_up

    def sent(self) -> None:
        self.last_sent = self.clock()

    def heartbeat_due(self) -> bool:
        return self.clock() - self.last_sent >= self.interval

    def expired(self) -> bool:
        """True once, when silence has lasted `liveness` intervals: the link is down."""
        if self.up and self.clock() - self.last_heard > self.interval * self.liveness:
            self.up = False
            return True
        return False

    def should_reconnect(self) -> bool:
        """(Host) The link just went down, or a (re)connection has stayed silent for the
        whole liveness window: drop the connection and schedule another."""
        if self.expired():
            return True
        window = self.interval * self.liveness
        return not self.up and self.reconnect_at is None and self.clock() - self.last_heard > window

    def schedule_reconnect(self) -> float:
        """(Host) After the link went down or a connect failed: when to try again."""
        self.retries += 1
        self.reconnect_at = self.clock() + self.backoff.delay(self.retries)
        self.last_heard = self.reconnect_at  # a fresh connection gets its full liveness
        return self.reconnect_at

    def reconnect_due(self) -> bool:
        return self.reconnect_at is not None and self.clock() >= self.reconnect_at

    def next_deadline(self) -> float:
        """The next time something may be due (a heartbeat, expiry, a reconnect)."""
        deadlines = [self.last_sent + self.interval]
        if self.up:
            deadlines.append(self.last_heard + self.interval * self.liveness + 1e-3)
        if self.reconnect_at is not None:
            deadlines.append(self.reconnect_at)
        return min(deadlines)
