"""A turn's token use, read from Claude's transcript where the CLI records it.

Every API response Claude Code gets is written to the transcript as `assistant` lines
whose `message.usage` holds the API's own counts (input, output, cache read and cache
write tokens). One response with several content blocks is written as several lines that
repeat the same `message.id` and usage: each id is counted once. The Stop hook carries no
usage and the transcript no cost (tests/fixtures/real_screens/README.md, "Usage").

Reading resumes where the last turn's reading stopped (a cursor kept in the worker's
journal, so a restart neither loses nor doubles a turn), and takes only whole lines: a
line the CLI had not finished writing at Stop is counted with the next turn.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from vai.protocol.usage import TurnUsage
from vai.worker.session_state import SessionState
from vai.worker.transcript import size_of
from vai.worker.transcript_access import Owner, read_transcript


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def usage_in(data: bytes) -> TurnUsage | None:
    """The usage of the assistant lines in `data` (whole JSONL lines); None if none."""
    seen: set[str] = set()
    totals = {"input": 0, "output": 0, "read": 0, "write": 0}
    calls = 0
    context = 0
    model = ""
    for line in data.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("type") != "assistant":
            continue
        message = entry.get("message")
        usage = message.get("usage") if isinstance(message, dict) else None
        if not isinstance(message, dict) or not isinstance(usage, dict):
            continue
        message_id = str(message.get("id") or "")
        if message_id and message_id in seen:
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
        return None
    return TurnUsage(
        input_tokens=totals["input"],
        output_tokens=totals["output"],
        cache_read_tokens=totals["read"],
        cache_write_tokens=totals["write"],
        api_calls=calls,
        context_tokens=context,
        model=model,
    )


def whole_lines(data: bytes) -> bytes:
    """`data` up to and including its last newline (a half-written line waits)."""
    end = data.rfind(b"\n")
    return data[: end + 1] if end >= 0 else b""


class UsageReader:
    """Reads the usage written since the last turn ended, moving the journal's cursor."""

    def __init__(self, path: Callable[[], Path], owner: Owner | None = None) -> None:
        self._path = path
        self._owner = owner

    def turn_usage(self, state: SessionState) -> TurnUsage | None:
        path = self._path()
        if str(path) != state.usage_path:  # a new conversation (or /clear): from its start
            state.usage_path, state.usage_offset = str(path), 0
        if size_of(path) < state.usage_offset:  # the file was replaced: start over
            state.usage_offset = 0
        data = whole_lines(read_transcript(path, state.usage_offset, self._owner))
        state.usage_offset += len(data)
        return usage_in(data)
