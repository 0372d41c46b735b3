"""A turn's token use, read from Claude's transcript where the CLI records it.

Every API response Claude Code gets is written to the transcript as `assistant` lines
whose `message.usage` holds the API's own counts (input, output, cache read and cache
write tokens). One response with several content blocks is written as several lines that
repeat the same `message.id` and usage: each id is counted once. The Stop hook carries no
usage and the transcript no cost (tests/fixtures/real_screens/README.md, "Usage"): the
cost and the context window's size come from the CLI's statusLine (worker/status_line.py).

Reading resumes where the last turn's reading stopped (a cursor kept in the worker's
journal, so a restart neither loses nor doubles a turn), and takes only whole lines. The
CLI flushes the transcript a moment after its Stop hook (3-500 ms measured): what was not
there yet is counted with the next turn, unless the worker waits for it (`usage_wait`,
worker/effects.py) because the answer's footer shows this turn's figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec

from vai.protocol.usage import TurnUsage
from vai.worker.session_state import SessionState
from vai.worker.status_line import CostCount
from vai.worker.transcript import assistant_messages, size_of, texts_of
from vai.worker.transcript_access import Owner, read_transcript


@dataclass(frozen=True)
class UsageReading:
    usage: TurnUsage | None
    last_text: str  # the last assistant text read (is the turn's answer in yet?)


MAX_COUNT = 10**10  # per line: far beyond any request; the file is Claude's to write


def _count(value: object) -> int:
    """A token count as written, or 0; bounded so no sum overflows the wire's 64 bits."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        return 0
    return min(value, MAX_COUNT)


def read_usage(data: bytes) -> UsageReading:
    """The usage of the assistant lines in `data` (whole JSONL lines)."""
    seen: set[str] = set()
    totals = {"input": 0, "output": 0, "read": 0, "write": 0}
    calls = context = 0
    model = last_text = ""
    for message in assistant_messages(data):
        last_text = next(reversed(texts_of(message)), last_text)
        usage = message.get("usage")
        message_id = str(message.get("id") or "")
        if not isinstance(usage, dict) or (message_id and message_id in seen):
            continue
        seen.add(message_id)
        calls += 1
        totals["input"] += _count(usage.get("input_tokens"))
        totals["output"] += _count(usage.get("output_tokens"))
        totals["read"] += _count(usage.get("cache_read_input_tokens"))
        totals["write"] += _count(usage.get("cache_creation_input_tokens"))
        context = sum(
            _count(usage.get(key))
            for key in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
        )
        model = str(message.get("model") or model)[:100]
    if not calls:
        return UsageReading(None, last_text)
    usage_ = TurnUsage(
        input_tokens=totals["input"],
        output_tokens=totals["output"],
        cache_read_tokens=totals["read"],
        cache_write_tokens=totals["write"],
        api_calls=calls,
        context_tokens=context,
        model=model,
    )
    return UsageReading(usage_, last_text)


def usage_in(data: bytes) -> TurnUsage | None:
    return read_usage(data).usage


def merged(first: TurnUsage | None, later: TurnUsage | None) -> TurnUsage | None:
    """Two readings of one turn as one (the context is the later one's, if it has one)."""
    if first is None or later is None:
        return later or first
    return TurnUsage(
        input_tokens=first.input_tokens + later.input_tokens,
        output_tokens=first.output_tokens + later.output_tokens,
        cache_read_tokens=first.cache_read_tokens + later.cache_read_tokens,
        cache_write_tokens=first.cache_write_tokens + later.cache_write_tokens,
        api_calls=first.api_calls + later.api_calls,
        cost_usd=_sum_cost(first.cost_usd, later.cost_usd),
        context_tokens=later.context_tokens or first.context_tokens,
        context_window=later.context_window or first.context_window,
        model=later.model or first.model,
    )


def _sum_cost(a: float | None, b: float | None) -> float | None:
    return None if a is None and b is None else (a or 0.0) + (b or 0.0)


def with_cost(usage: TurnUsage | None, cost: CostCount | None) -> TurnUsage | None:
    """The turn's usage with the CLI's cost and context window added (worker/status_line.py)."""
    if cost is None:
        return usage
    window = cost.window or (usage.context_window if usage else 0)
    if usage is None:
        return TurnUsage(cost_usd=cost.cost_usd, context_window=window)
    return msgspec.structs.replace(usage, cost_usd=cost.cost_usd, context_window=window)


def whole_lines(data: bytes) -> bytes:
    """`data` up to and including its last newline (a half-written line waits)."""
    end = data.rfind(b"\n")
    return data[: end + 1] if end >= 0 else b""


def same_text(a: str, b: str) -> bool:
    return " ".join(a.split()) == " ".join(b.split())


class UsageReader:
    """Reads the usage written since the last reading, moving the journal's cursor."""

    def __init__(self, path: Callable[[], Path], owner: Owner | None = None) -> None:
        self._path = path
        self._owner = owner

    def _unread(self, state: SessionState) -> bytes:
        path = self._path()
        if str(path) != state.usage_path:  # a new conversation (or /clear): from its start
            state.usage_path, state.usage_offset = str(path), 0
        if size_of(path) < state.usage_offset:  # the file was replaced: start over
            state.usage_offset = 0
        return whole_lines(read_transcript(path, state.usage_offset, self._owner))

    def peek(self, state: SessionState) -> UsageReading:
        """What a `take` would count now, without counting it."""
        return read_usage(self._unread(state))

    def take(self, state: SessionState) -> UsageReading:
        data = self._unread(state)
        state.usage_offset += len(data)
        return read_usage(data)
