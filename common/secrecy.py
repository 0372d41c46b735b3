"""Keeping a process's secrets from other processes of the same user.

`make_undumpable` (prctl PR_SET_DUMPABLE 0): the kernel then lets no process without
CAP_SYS_PTRACE (the same user included) ptrace this one or read its /proc/PID/environ,
mem, fd/ or cmdline-adjacent private files, and writes no core dump. Every bridge process
calls it first thing; a child that execs is dumpable again until it calls it too.

`hide_environment`: secrets read from the environment leave it (os.environ, so no child
inherits them), and their bytes are wiped from the block the kernel shows as
/proc/PID/environ, which is the environment the process was started with, whatever
os.environ says later.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from collections.abc import Iterable
from pathlib import Path

log = logging.getLogger("secrecy")

PR_GET_DUMPABLE = 3
PR_SET_DUMPABLE = 4
# /proc/PID/stat fields 50 and 51 (1-based): where the initial environment lies.
_ENV_START_FIELD = 50


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def make_undumpable() -> bool:
    """True when the kernel took it (Linux); logs why not otherwise."""
    try:
        done = _libc().prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError) as exc:
        log.warning("cannot make this process non-dumpable: %s", exc)
        return False
    if done != 0:
        log.warning("prctl(PR_SET_DUMPABLE) failed: %s", os.strerror(ctypes.get_errno()))
        return False
    return True


def is_dumpable() -> bool:
    return bool(_libc().prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))


def hide_environment(names: Iterable[str]) -> list[str]:
    """Remove `names` from os.environ and wipe them from the initial environment block.
    Returns the names that were there."""
    wanted = {name.encode() for name in names}
    found = [name.decode() for name in wanted if os.environ.pop(name.decode(), None) is not None]
    try:
        _wipe_initial_environment(wanted)
    except (OSError, ValueError) as exc:
        log.warning("cannot wipe the initial environment: %s", exc)
    return sorted(found)


def _wipe_initial_environment(names: set[bytes]) -> None:
    """Zero every NAME=value entry of `names` where the kernel keeps the start-up
    environment (the process's own stack: writable, and no longer read by libc or Python
    once os.environ has dropped the names)."""
    stat = Path("/proc/self/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # from field 3 on
    start, end = (int(fields[_ENV_START_FIELD - 3 + i]) for i in (0, 1))
    if not start or end <= start:
        raise ValueError("the kernel does not say where the environment is")
    block = ctypes.string_at(start, end - start)
    offset = 0
    for entry in block.split(b"\0"):
        name, sep, _ = entry.partition(b"=")
        if sep and name in names:
            ctypes.memset(start + offset, 0, len(entry))
        offset += len(entry) + 1
