"""Files for Discord: a safe name, and whether Discord will take the file at all. Pure.

No discord.py here: the supervisor uses `upload_problem` to refuse `dp --file` at once
with a clear error, and the gateway checks again when it posts (the file may change).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable
from stat import S_ISREG

MAX_FILENAME = 100
MIB = 1024 * 1024
DEFAULT_UPLOAD_LIMIT = 10 * MIB

_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f/\\:*?"<>|]')


def safe_filename(name: str, fallback: str = "file") -> str:
    """A name Discord and aiohttp accept: no path, no control characters, not too long.

    aiohttp refuses a multipart filename with a newline or NUL outright, and Discord
    shows the name to everyone, so anything odd becomes `_`.
    """
    name = unicodedata.normalize("NFC", os.path.basename(name.replace("\\", "/")))
    name = _UNSAFE.sub("_", name).strip().strip(".")
    if not name:
        return fallback
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            name = stem[: MAX_FILENAME - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_FILENAME]
    return name


def human_size(size: int) -> str:
    if size >= MIB:
        return f"{size / MIB:.1f} MiB"
    if size >= 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size} bytes"


def upload_problem(
    path: str, limit: int = DEFAULT_UPLOAD_LIMIT, stat: Callable[[str], os.stat_result] = os.stat
) -> str:
    """Why Discord would not take this file ("" if it would)."""
    shown = safe_filename(os.path.basename(path))
    try:
        info = stat(path)
    except FileNotFoundError:
        return f"file `{shown}` does not exist ({path})"
    except OSError as exc:
        return f"file `{shown}` cannot be read: {exc.strerror or exc}"
    if not S_ISREG(info.st_mode):
        return f"`{shown}` is not a regular file"
    if info.st_size > limit:
        return (
            f"file `{shown}` is {human_size(info.st_size)}, over Discord's {human_size(limit)}"
            " limit per file: compress or split it, or share it another way"
        )
    if not os.access(path, os.R_OK) and stat is os.stat:
        return f"file `{shown}` cannot be read: permission denied"
    return ""
