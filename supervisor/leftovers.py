"""Children a dead supervisor left behind, and replacing them cleanly.

Every spawn and exit is recorded in run/children.json (pid and start time). A supervisor
that starts after its predecessor was SIGKILLed ends those process groups before it
spawns its own, so there is never a second gateway or an orphaned worker. The start time
guards against a recycled pid: only the very process that was recorded is signalled.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from pathlib import Path

import psutil

from vai.common.atomic import write_atomic

log = logging.getLogger("supervisor.leftovers")


def _start_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


class ChildRegistry:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._children: dict[str, tuple[int, float]] = {}

    def record(self, name: str, pid: int) -> None:
        started = _start_time(pid)
        if started is not None:
            self._children[name] = (pid, started)
            self._write()

    def forget(self, name: str, pid: int) -> None:
        if self._children.get(name, (0, 0.0))[0] == pid:
            del self._children[name]
            self._write()

    def _write(self) -> None:
        data = {n: {"pid": p, "started": s} for n, (p, s) in self._children.items()}
        write_atomic(self.path, json.dumps(data).encode(), mode=0o600)

    def end_leftovers(self, grace: float = 2.0) -> list[str]:
        """End the process groups a previous supervisor recorded; return their names."""
        try:
            recorded = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        alive: list[tuple[str, int]] = []
        for name, entry in recorded.items() if isinstance(recorded, dict) else []:
            pid, started = entry.get("pid"), entry.get("started")
            if isinstance(pid, int) and pid != os.getpid() and _start_time(pid) == started:
                alive.append((name, pid))
        for _, pid in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for _, pid in alive:
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).wait(max(0.0, deadline - time.monotonic()))
        for _, pid in alive:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        self.path.unlink(missing_ok=True)
        names = [name for name, _ in alive]
        if names:
            log.warning(
                "ended %d processes a previous supervisor left: %s", len(names), ", ".join(names)
            )
        return names
