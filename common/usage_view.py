"""Token use in words: an answer's footer, `/usage` and `vai status --usage`.

"in" counts every input token the API read (plain, cache read and cache write): that is
what the prompt cost in context; the cached share is shown where there is room. Cost is
shown only when the CLI reported it, never estimated.
"""

from __future__ import annotations

from vai.protocol.session_info import SessionInfo
from vai.protocol.usage import TurnUsage, UsageTotals


def format_count(n: int) -> str:
    """1234 -> '1.2k', 3400000 -> '3.4M' (short enough for a footer)."""
    for size, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if n >= size:
            value = f"{n / size:.1f}".removesuffix(".0")
            return f"{value}{suffix}"
    return str(max(n, 0))


def format_cost(usd: float) -> str:
    if usd >= 1:
        return f"${usd:.2f}"
    return f"${usd:.3f}" if usd >= 0.001 else f"${usd:.4f}"


def context_words(tokens: int, window: int) -> str:
    if window > 0:
        return f"context {round(100 * tokens / window)}%"
    return f"context {format_count(tokens)}"


def usage_footer(usage: TurnUsage) -> str:
    """The small-text line under an answer: `-# 12.2k in · 340 out · $0.004 · context 3%`."""
    parts = [f"{format_count(usage.tokens_in)} in", f"{format_count(usage.output_tokens)} out"]
    if usage.cost_usd is not None:
        parts.append(format_cost(usage.cost_usd))
    if usage.context_tokens:
        parts.append(context_words(usage.context_tokens, usage.context_window))
    return "-# " + " · ".join(parts)


def with_footer(text: str, usage: TurnUsage | None, limit: int = 2000) -> str:
    """The answer with its footer appended, unless it would no longer fit one message."""
    if usage is None:
        return text
    footer = usage_footer(usage)
    combined = f"{text}\n{footer}"
    return combined if len(text) <= limit - len(footer) - 1 else text


def totals_words(totals: UsageTotals | None) -> str:
    """One session's totals on one line ('no turns counted yet' without any)."""
    if totals is None or not totals.turns:
        return "no turns counted yet"
    turns = "turn" if totals.turns == 1 else "turns"
    parts = [
        f"{totals.turns} {turns}",
        f"{format_count(totals.tokens_in)} in ({format_count(totals.cache_read_tokens)} cached)",
        f"{format_count(totals.output_tokens)} out",
    ]
    if totals.cost_usd is not None:
        parts.append(format_cost(totals.cost_usd))
    if totals.context_tokens:
        parts.append(context_words(totals.context_tokens, totals.context_window) + " now")
    return " · ".join(parts)


def usage_lines(sessions: list[SessionInfo]) -> list[str]:
    """`session N (name): totals` per session, for /usage and `vai status --usage`."""
    lines = []
    for info in sessions:
        name = info.settings.name if info.settings is not None and info.settings.name else ""
        label = f"session {info.session}" + (f" ({name})" if name else "")
        lines.append(f"{label}: {totals_words(info.usage)}")
    return lines or ["no sessions"]
