"""Resource readings of process trees and directories (psutil), for status and monitoring."""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import psutil


def memory_of(pid: int, include_children: bool = True) -> int | None:
    """Resident memory of a process and (by default) all its descendants, in bytes."""
    try:
        root = psutil.Process(pid)
        processes = [root, *(root.children(recursive=True) if include_children else [])]
    except psutil.Error:
        return None
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total


class TreeReading(msgspec.Struct, frozen=True):
    """One process tree at one moment: resident memory, CPU since the last reading."""

    memory_bytes: int
    cpu_percent: float
    processes: int


class TreeSampler:
    """CPU and memory of process trees, reading after reading.

    psutil measures CPU between two calls on the same Process object, so the objects are
    kept from one reading to the next (a reused pid is a new object: psutil compares
    creation times). Not thread-safe: one collector uses it at a time.
    """

    def __init__(self) -> None:
        self._known: dict[int, psutil.Process] = {}
        self._seen: set[int] = set()
        self._children: dict[int, list[int]] | None = None

    def begin_pass(self) -> None:
        """Read every process's parent once: psutil's `children()` scans all of /proc per
        call, which for 50 sessions' panes and workers was most of an idle supervisor's CPU."""
        children: dict[int, list[int]] = {}
        for process in psutil.process_iter(["ppid"]):
            parent = process.info.get("ppid")
            if parent:
                children.setdefault(parent, []).append(process.pid)
        self._children = children

    def _process(self, pid: int) -> psutil.Process:
        process = self._known.get(pid)
        if process is None or not process.is_running():
            process = psutil.Process(pid)
            process.cpu_percent(None)  # the first call only starts the measurement
            self._known[pid] = process
        self._seen.add(pid)
        return process

    def _descendants(self, root: psutil.Process) -> list[int]:
        if self._children is None:
            return [child.pid for child in root.children(recursive=True)]
        found, stack = [], [root.pid]
        while stack:
            for child in self._children.get(stack.pop(), ()):
                found.append(child)
                stack.append(child)
        return found

    def tree(self, pid: int) -> TreeReading | None:
        try:
            root = self._process(pid)
            members = [pid, *self._descendants(root)]
        except psutil.Error:
            return None
        memory, cpu, count = 0, 0.0, 0
        for member in members:
            try:
                process = self._process(member)
                with process.oneshot():
                    memory += process.memory_info().rss
                    cpu += process.cpu_percent(None)
                count += 1
            except psutil.Error:
                continue
        return TreeReading(memory_bytes=memory, cpu_percent=round(cpu, 1), processes=count)

    def end_pass(self) -> None:
        """Forget processes not read since the last call (they ended or left the trees)."""
        for pid in set(self._known) - self._seen:
            del self._known[pid]
        self._seen.clear()
        self._children = None


def dir_size(path: Path) -> int:
    """Bytes used by the regular files under `path` (symlinks not followed); 0 if missing."""
    total = 0
    stack = [path]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total
