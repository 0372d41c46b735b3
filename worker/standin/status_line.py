"""The statusLine command, run the way Claude Code does: on start-up and after each
response, the session's figures as JSON on stdin, without holding up the session.

Why: the bridge reads the CLI's own cost and context window from that JSON (the only place
the real CLI has them), so the stand-in must send the same fields
(tests/fixtures/real_screens/README.md, "Usage"). The numbers are made up but steady: a
price per token applied to the usage the stand-in writes in its transcript, cumulative per
process like the real `cost.total_cost_usd`.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from .hooks import HookRunner, run_command

# $ per million tokens (made up, of the order of a real model's): input, cache write,
# cache read, output.
PRICES = {
    "input_tokens": 3.0,
    "cache_creation_input_tokens": 3.75,
    "cache_read_input_tokens": 0.3,
    "output_tokens": 15.0,
}
WINDOW = 200_000
TIMEOUT = 5.0
# The real CLI runs it about 0.3 s after a response (debounced), while the Stop hooks
# may still run: measured 370 ms after a blocking Stop hook started (2.1.330).
DEBOUNCE = 0.3


def cost_of(usage: dict[str, Any]) -> float:
    return sum(float(usage.get(key, 0)) * price for key, price in PRICES.items()) / 1e6


class StatusLineFeed:
    """Feeds the configured statusLine command (if any) from the transcript's usage."""

    def __init__(self, command: str, hooks: HookRunner, model: str | None) -> None:
        self.command = command
        self.hooks = hooks
        self.model = model or "claude-standin"
        self.counted = 0  # usage entries already priced
        self.cost_usd = 0.0
        self.last: dict[str, Any] | None = None

    def reading(self, usages: list[dict[str, Any]]) -> dict[str, Any]:
        """The JSON the real CLI hands its statusLine command (the fields the bridge reads,
        and a few more)."""
        for usage in usages[self.counted :]:
            self.cost_usd += cost_of(usage)
            self.last = usage
        self.counted = len(usages)
        last = self.last or {}
        context = sum(
            int(last.get(key, 0))
            for key in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
        )
        used = round(100 * context / WINDOW) if self.last else None
        return {
            "session_id": self.hooks.session_id,
            "transcript_path": self.hooks.transcript_path,
            "cwd": self.hooks.cwd,
            "prompt_id": self.hooks.prompt_id,
            "model": {"id": self.model, "display_name": self.model},
            "version": "2.1.330",
            "cost": {"total_cost_usd": round(self.cost_usd, 6), "total_duration_ms": 0},
            "context_window": {
                "total_input_tokens": context,
                "context_window_size": WINDOW,
                "current_usage": self.last,
                "used_percentage": used,
                "remaining_percentage": None if used is None else 100 - used,
            },
        }

    def send(self, usages: list[dict[str, Any]], delay: float = DEBOUNCE) -> None:
        """Run the command in the background after `delay` (the session goes on, its hooks
        too); its output is not shown."""
        if not self.command:
            return
        data = json.dumps(self.reading(usages)).encode()
        hooks = self.hooks

        def run() -> None:
            time.sleep(delay)
            run_command(self.command, data, TIMEOUT, hooks.cwd, hooks.env)

        threading.Thread(target=run, daemon=True).start()
