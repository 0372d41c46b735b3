"""Threshold alerts (the seed design's AlertManager): pure, clock injected.

Each (metric, session) pair is a small state machine. A reading at or over the threshold
for `sustain_s` raises one alert; nothing more is said while it stays over; a reading
under the threshold by `recovery_margin` clears it with one recovery event. A missing
reading (the process is between restarts) changes nothing. The monitor turns events into
channel messages; this module never does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

AlertKind = Literal["raised", "cleared"]


@dataclass(frozen=True)
class AlertEvent:
    metric: str
    session: int | None
    kind: AlertKind
    value: float
    threshold: float
    at: float


@dataclass
class _Track:
    over_since: float | None = None
    active: bool = False
    raised_at: float | None = None
    value: float = 0.0
    threshold: float = 0.0


@dataclass(frozen=True)
class ActiveAlert:
    metric: str
    session: int | None
    value: float
    threshold: float
    since: float


class AlertManager:
    def __init__(
        self,
        *,
        clock: Callable[[], float],
        recovery_margin: float = 0.05,
        sustain_s: float = 0.0,
    ) -> None:
        if not 0 <= recovery_margin < 1:
            raise ValueError("recovery_margin must be in [0, 1)")
        self._clock = clock
        self.recovery_margin = recovery_margin
        self.sustain_s = sustain_s
        self._tracks: dict[tuple[str, int | None], _Track] = {}

    def observe(
        self, metric: str, session: int | None, value: float | None, threshold: float | None
    ) -> AlertEvent | None:
        """One reading; returns the event it causes, if any."""
        if value is None or threshold is None or threshold <= 0:
            return None
        now = self._clock()
        track = self._tracks.setdefault((metric, session), _Track())
        track.value, track.threshold = value, threshold
        if not track.active:
            if value < threshold:
                track.over_since = None
                return None
            if track.over_since is None:
                track.over_since = now
            if now - track.over_since < self.sustain_s:
                return None
            track.active, track.raised_at = True, now
            return AlertEvent(metric, session, "raised", value, threshold, now)
        if value < threshold * (1 - self.recovery_margin):
            track.active, track.over_since, track.raised_at = False, None, None
            return AlertEvent(metric, session, "cleared", value, threshold, now)
        return None

    def active(self) -> list[ActiveAlert]:
        return [
            ActiveAlert(metric, session, t.value, t.threshold, t.raised_at or 0.0)
            for (metric, session), t in sorted(
                self._tracks.items(), key=lambda item: (item[0][1] or 0, item[0][0])
            )
            if t.active
        ]

    def is_active(self, metric: str, session: int | None) -> bool:
        track = self._tracks.get((metric, session))
        return track is not None and track.active

    def forget(self, session: int) -> None:
        """A removed session: its alerts go without a recovery notice."""
        for key in [k for k in self._tracks if k[1] == session]:
            del self._tracks[key]
