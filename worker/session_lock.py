"""One worker per session, whatever happened to the supervisors.

A supervisor killed just after it spawned a worker may not have recorded it, so the next
supervisor cannot end it and starts a second worker for the same session. Two workers
would both type, and a message could be answered by one and marked interrupted by the
other. So each worker holds `run/worker-N.lock` (flock, released by the kernel when the
process dies, SIGKILL included) with its pid in it; a new worker that finds the lock held
ends the holder, which can only be a leftover: the current supervisor started the new one.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import time
from pathlib import Path

log = logging.getLogger("worker.lock")


def _is_worker(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"vai.worker" in cmdline and b"-m" in cmdline


def take(path: Path, session: int, timeout: float = 10.0) -> int:
    """The lock's fd (keep it open for the worker's life); TimeoutError if it stays held."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + timeout
    ended: set[int] = set()
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder(fd)
            if pid and pid != os.getpid() and pid not in ended and _is_worker(pid):
                log.warning("ending worker %d, left over from a previous supervisor for session %d",
                            pid, session)  # fmt: skip
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                ended.add(pid)
            if time.monotonic() > deadline:
                os.close(fd)
                raise TimeoutError(f"{path} is held by another process") from None
            time.sleep(0.05)
            continue
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        return fd


def _holder(fd: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        return int(os.pread(fd, 32, 0).decode().strip() or 0)
    return 0
