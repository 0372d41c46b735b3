"""Size-based rotation of every log under logs/, by copytruncate.

When a file passes `max_bytes` the supervisor copies it to `NAME.log.1` (older copies
shift up to `backups`) and truncates it in place. Children keep their descriptors and,
writing with O_APPEND, continue at the start of the emptied file; nothing has to reopen
anything.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

log = logging.getLogger("supervisor.logs")


def backup_path(path: Path, number: int) -> Path:
    return path.with_name(f"{path.name}.{number}")


def rotate_if_needed(path: Path, max_bytes: int, backups: int) -> bool:
    """Copytruncate `path` when it passed `max_bytes`; True when it rotated."""
    try:
        size = path.stat().st_size
    except OSError:
        return False
    if max_bytes <= 0 or size < max_bytes:
        return False
    if backups <= 0:
        os.truncate(path, 0)
        return True
    for number in range(backups - 1, 0, -1):
        older = backup_path(path, number)
        if older.exists():
            os.replace(older, backup_path(path, number + 1))
    first = backup_path(path, 1)
    with open(path, "rb") as source, open(first, "wb") as copy:
        os.fchmod(copy.fileno(), 0o600)
        shutil.copyfileobj(source, copy, 1024 * 1024)
        # Whatever arrived while copying goes into the copy too, then the file is emptied.
        shutil.copyfileobj(source, copy, 1024 * 1024)
        os.truncate(path, 0)
    return True


def rotate_logs(logs_dir: Path, max_bytes: int, backups: int) -> list[Path]:
    """Rotate every `*.log` under logs/ that passed the limit; the ones rotated."""
    rotated = []
    for path in sorted(logs_dir.glob("*.log")):
        try:
            if rotate_if_needed(path, max_bytes, backups):
                rotated.append(path)
        except OSError as exc:
            log.warning("cannot rotate %s: %s", path, exc)
    return rotated
