"""Resource readings of process trees (psutil), for status and monitoring."""

from __future__ import annotations

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
