"""Opening Claude's transcript safely when Claude runs as its own user.

The path comes from that user (its SessionStart hook) and the bridge may be root: a
transcript is read only if the file opened is a regular file Claude's user owns, so a
symlink or hard link to a file of the bridge's is never read, let alone posted, and a
FIFO in its place cannot hang the worker (opened without blocking).

A bridge that is not root (a service user with CAP_SETUID, deploy/vai.service) cannot
open it at all: the real CLI writes transcripts 0600. Then it is read by a short-lived
reader running as Claude's user (setpriv), which sees only what Claude could. Transcript
reads are rare (a restart, a turn that ended without its Stop hook), so that is cheap.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("worker")
MAX_READ = 256 * 1024 * 1024

READER = """
import os, stat, sys
path, offset, limit, owner = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
info = os.fstat(fd)
if stat.S_ISREG(info.st_mode) and info.st_uid == owner:
    os.lseek(fd, offset, 0)
    with os.fdopen(fd, "rb") as handle:
        sys.stdout.buffer.write(handle.read(limit))
"""


@dataclass(frozen=True)
class Owner:
    """Claude's own user: whose files transcripts must be, and who may read them."""

    uid: int
    gid: int
    python: str = "/usr/bin/python3"


def read_transcript(path: Path | None, offset: int = 0, owner: Owner | None = None) -> bytes:
    """The transcript's bytes after `offset` (b"" if unreadable, not a regular file, or
    not `owner`'s file)."""
    if path is None:
        return b""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except PermissionError:
        return read_as(owner, path, offset) if owner is not None else b""
    except OSError:
        return b""
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return b""
        if owner is not None and info.st_uid != owner.uid:
            log.warning("transcript %s is uid %d's, not Claude's: not read", path, info.st_uid)
            return b""
        try:
            handle.seek(offset)
            return handle.read(MAX_READ)
        except OSError:
            return b""


def read_as(owner: Owner, path: Path, offset: int) -> bytes:
    """Read as Claude's user (the bridge may switch users, but may not read its files)."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return b""
    argv = [setpriv, f"--reuid={owner.uid}", f"--regid={owner.gid}", "--clear-groups"]
    argv += ["--inh-caps=-all", "--no-new-privs", "--", owner.python, "-I", "-S", "-c", READER]
    argv += [str(path), str(offset), str(MAX_READ), str(owner.uid)]
    try:
        done = subprocess.run(
            argv, capture_output=True, timeout=30, check=False, env={}, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("cannot read transcript %s as uid %d: %s", path, owner.uid, exc)
        return b""
    if done.returncode != 0:
        problem = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["?"]
        log.warning("cannot read transcript %s as uid %d: %s", path, owner.uid, problem[0])
        return b""
    return done.stdout
