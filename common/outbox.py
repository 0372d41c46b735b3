"""Copies of files waiting for the gateway to post them (`dp --file`), pruned after a day.

The copy must outlive the worker or host that made it (the gateway posts it later, maybe
after a restart), so nothing deletes it at post time; whoever adds copies prunes the old
ones, which also removes copies Discord would never take.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path

OUTBOX_MAX_AGE = 24 * 3600.0


def prune_outbox(folder: Path, now: float | None = None, max_age: float = OUTBOX_MAX_AGE) -> None:
    """Remove every entry of `folder` last changed more than `max_age` seconds ago."""
    now = time.time() if now is None else now
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in list(entries):
            with contextlib.suppress(OSError):
                if now - entry.stat(follow_symlinks=False).st_mtime > max_age:
                    shutil.rmtree(entry.path, ignore_errors=True)
