"""Token use and cost: one turn's (TurnEnded, PostReply) and a session's totals (status).

Pure data. Tokens are Claude Code's own counts from its transcript (the API's `usage`);
`cost_usd` is None unless the CLI itself reported a cost (the bridge never prices tokens);
`context_window` 0 means the window's size is not known.
"""

from __future__ import annotations

import msgspec


class TurnUsage(msgspec.Struct, frozen=True, omit_defaults=True):
    """What one turn used: summed over its API calls; the context is the last call's."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    api_calls: int = 0
    cost_usd: float | None = None
    context_tokens: int = 0  # the prompt size of the turn's last request
    context_window: int = 0
    model: str = ""

    @property
    def tokens_in(self) -> int:
        """Every input token the API read, cached or not."""
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens


class UsageTotals(msgspec.Struct, frozen=True, omit_defaults=True):
    """A session's sums since it was added (kept in the supervisor's inbox database)."""

    turns: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None  # None: the CLI reported no cost for any turn
    context_tokens: int = 0  # as of the last turn
    context_window: int = 0

    @property
    def tokens_in(self) -> int:
        return self.input_tokens + self.cache_read_tokens + self.cache_write_tokens
