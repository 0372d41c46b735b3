"""`vai tail all`: every log of the bridge as one, interleaved by time, each line prefixed
with its source. Pure merging plus a small follower that survives rotation.

Every process writes lines that start with an ISO 8601 UTC time (common/logs.py); a line
without one (a traceback's) keeps the time of the line before it, so it stays with it.
Rotation truncates a file in place (supervisor/log_rotation.py): a file that shrank is
read again from its start.
"""

from __future__ import annotations

import heapq
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from vai.protocol.layout import Layout

_STAMP = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z) ")
_SESSION_LOG = re.compile(r"^session_(\d+)\.log$")


@dataclass(frozen=True)
class LogLine:
    stamp: str  # the ISO time (sorts as text); "" before the first stamped line
    source: str
    text: str

    def render(self, width: int) -> str:
        return f"{self.source.ljust(width)} | {self.text}"


def sources(layout: Layout) -> dict[str, Path]:
    """The current log files: supervisor, gateway, then sessions by number."""
    found = {name: layout.process_log(name) for name in ("supervisor", "gateway")}
    sessions = []
    if layout.logs_dir.is_dir():
        for path in layout.logs_dir.iterdir():
            match = _SESSION_LOG.match(path.name)
            if match:
                sessions.append((int(match.group(1)), path))
    for number, path in sorted(sessions):
        found[f"session {number}"] = path
    return {name: path for name, path in found.items() if path.exists()}


def stamped(source: str, lines: Iterable[str], last: str = "") -> Iterator[LogLine]:
    for text in lines:
        match = _STAMP.match(text)
        if match:
            last = match.group(1)
        yield LogLine(last, source, text)


def merge(streams: Iterable[Iterable[LogLine]]) -> list[LogLine]:
    """Interleave by time; lines of one source keep their order."""
    return list(heapq.merge(*streams, key=lambda line: line.stamp))


def last_lines(path: Path, count: int, chunk: int = 65536) -> list[str]:
    """The last `count` lines of a file, reading only its end."""
    if count <= 0:
        return []
    with open(path, "rb") as handle:
        handle.seek(0, os.SEEK_END)
        end = handle.tell()
        data = b""
        while end > 0 and data.count(b"\n") <= count:
            start = max(0, end - chunk)
            handle.seek(start)
            data = handle.read(end - start) + data
            end = start
    return data.decode("utf-8", "replace").splitlines()[-count:]


class Follower:
    """New lines of every log as they are written, new session logs included."""

    def __init__(self, layout: Layout) -> None:
        self.layout = layout
        self.offsets: dict[str, int] = {}
        self.partial: dict[str, str] = {}
        self.stamps: dict[str, str] = {}

    def start_at_end(self) -> None:
        for name, path in sources(self.layout).items():
            self.offsets[name] = path.stat().st_size

    def poll(self) -> list[LogLine]:
        batches = []
        for name, path in sources(self.layout).items():
            lines = self._read(name, path)
            if lines:
                batch = list(stamped(name, lines, self.stamps.get(name, "")))
                self.stamps[name] = batch[-1].stamp
                batches.append(batch)
        return merge(batches)

    def _read(self, name: str, path: Path) -> list[str]:
        try:
            size = path.stat().st_size
            offset = self.offsets.get(name, 0)
            if size < offset:  # rotated (truncated in place): read it from the start
                offset = 0
                self.partial.pop(name, None)
            if size == offset:
                return []
            with open(path, "rb") as handle:
                handle.seek(offset)
                data = handle.read(size - offset)
        except OSError:
            return []
        self.offsets[name] = offset + len(data)
        text = self.partial.pop(name, "") + data.decode("utf-8", "replace")
        lines = text.split("\n")
        if lines[-1]:
            self.partial[name] = lines[-1]
        return lines[:-1]
