"""The CLI's own cost and context window, from its statusLine readings.

Claude Code hands its statusLine command (the hook client, worker/hook_client.py) a JSON
reading on start-up and after each response, debounced: `cost.total_cost_usd` is
cumulative per CLI process, so a turn's cost is its growth since the last counted reading.
A Claude started again (a new pane process, or a total lower than the one counted) counts
from 0. What was counted is journaled (SessionState.cost_pid / cost_counted), so a worker
restart neither loses nor doubles a cost; a reading is not journaled: a new worker waits
for the next one (the CLI sends one after each response).

Readings come from the pane and are untrusted: protocol/hooks.py bounds each number, and
the gate lets in only this session's Claude, so a forged one moves this session's figures
only.
"""

from __future__ import annotations

from dataclasses import dataclass

from vai.protocol.hooks import StatusLine
from vai.worker.session_state import SessionState


@dataclass(frozen=True)
class CostCount:
    """What a turn is charged: the cost growth (None: the CLI reports no cost) and the
    context window's size (0: unknown)."""

    cost_usd: float | None
    window: int


class CostMeter:
    def __init__(self) -> None:
        self.latest: StatusLine | None = None
        self.pane_pid = 0
        self.seq = 0  # readings taken so far: a turn waits for one newer than its end

    def take_reading(self, reading: StatusLine, pane_pid: int) -> None:
        self.latest, self.pane_pid = reading, pane_pid
        self.seq += 1

    def count(self, state: SessionState) -> CostCount | None:
        """The cost since the last count (moving the journal's baseline), or None before
        any reading; `cost_usd` None when nothing grew."""
        reading = self.latest
        if reading is None:
            return None
        if reading.cost is None:
            return CostCount(None, reading.window)
        total = reading.total_cost_usd
        restarted = self.pane_pid != state.cost_pid or total < state.cost_counted
        growth = total if restarted else total - state.cost_counted
        if growth <= 0:
            # No newer reading yet (or a turn without API calls): no cost is shown rather
            # than "$0.0000"; a late reading's growth counts with the next turn.
            return CostCount(None, reading.window)
        state.cost_pid, state.cost_counted = self.pane_pid, total
        return CostCount(growth, reading.window)
