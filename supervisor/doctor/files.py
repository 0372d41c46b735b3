"""Permissions and ownership of VAI_HOME and what it holds (secrets, attachments).

When Claude runs as its own user, VAI_HOME, run/ and attachments/ may be 0711 (passed
through, never listed) and each attachments/session_N/ shared with that user's group
(0750, files 0640); nothing else changes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

from vai.protocol.layout import Layout
from vai.supervisor.doctor.findings import Finding, fail, ok, warn


def _mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.lstat().st_mode)
    except OSError:
        return None


def _chmod(path: Path, mode: int) -> Callable[[], None]:
    return lambda: os.chmod(path, mode)


def _private(
    path: Path, wanted: int, what: str, strict: bool = True, allowed: int = 0
) -> Iterator[Finding]:
    """`allowed`: group/other bits that are fine here (0o011: traversable)."""
    mode = _mode(path)
    if mode is None:
        return
    try:
        owner = path.lstat().st_uid
    except OSError:
        return
    if owner != os.geteuid():
        yield fail(
            f"{what} {path} belongs to uid {owner}, not to you (uid {os.geteuid()})",
            f"chown {os.geteuid()} {path}",
        )
    if mode & 0o077 & ~allowed:
        level = fail if strict or mode & 0o022 else warn
        yield level(
            f"{what} {path} is open to others (mode {mode:04o})",
            f"chmod {wanted:o} {path}",
            _chmod(path, wanted),
        )
    else:
        yield ok(f"{what} {path} is private (mode {mode:04o})")


def check_permissions(layout: Layout, isolated: bool = False) -> Iterator[Finding]:
    """`isolated`: Claude runs as its own user, which passes through some directories."""
    through = 0o011 if isolated else 0
    shared = 0o050 if isolated else 0
    root = layout.root
    if not root.exists():
        yield warn(f"VAI_HOME {root} does not exist yet", "`vai init` or `vai run` creates it")
        return
    if not root.is_dir():
        yield fail(f"VAI_HOME {root} is not a directory", f"move {root} away")
        return
    yield from _private(root, 0o700, "VAI_HOME", strict=False, allowed=through)
    if not os.access(root, os.W_OK | os.X_OK):
        yield fail(f"VAI_HOME {root} is not writable by you", f"chown -R {os.geteuid()} {root}")
    yield from _private(layout.run_dir, 0o700, "run/", allowed=through)
    yield from _private(layout.env_file, 0o600, ".env")
    yield from _private(layout.sessions_file, 0o600, "sessions.json", strict=False)
    yield from _private(layout.logs_dir, 0o700, "logs/", strict=False)
    attachments = layout.attachments_dir
    if attachments.exists():
        yield from _private(attachments, 0o700, "attachments/", allowed=through)
        for directory in sorted(p for p in attachments.glob("session_*") if p.is_dir()):
            found = _private(directory, 0o700, "attachments", allowed=shared)
            yield from (f for f in found if f.level != "ok")
            open_files = [
                p
                for p in directory.rglob("*")
                if p.is_file() and (_mode(p) or 0) & 0o077 & ~(shared & 0o040)
            ]
            if open_files:

                def repair(files: list[Path] = open_files) -> None:
                    for path in files:
                        os.chmod(path, 0o600)

                yield warn(
                    f"{len(open_files)} file(s) in {directory} are open to others",
                    f"chmod 600 {directory}/*",
                    repair,
                )
