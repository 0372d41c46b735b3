"""Local users for the isolation tests: made with unique names, removed afterwards.

Only users a test made are removed (and only their processes ended, by pid). The tests
that need them run as root (CI does) and are skipped otherwise.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from vai.protocol.specs import PaneUser

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("useradd") is None or shutil.which("setpriv") is None,
    reason="needs root, useradd and setpriv (CI runs as root)",
)


def unique_name(prefix: str = "vt") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def add_user(name: str, home: Path, groups: tuple[str, ...] = ()) -> PaneUser:
    argv = ["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", str(home)]
    argv += ["--shell", "/bin/bash"]
    if groups:
        argv += ["--groups", ",".join(groups)]
    subprocess.run([*argv, name], check=True, capture_output=True)
    entry = pwd.getpwnam(name)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, entry.pw_uid, entry.pw_gid)
    home.chmod(0o750)
    return PaneUser(name=name, uid=entry.pw_uid, gid=entry.pw_gid, home=str(home))


def remove_user(name: str) -> None:
    """End the user's processes (by pid), then remove it and its own group."""
    try:
        uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        return
    mine = [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"][0] == uid]
    for process in mine:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(mine, timeout=5)
    subprocess.run(["userdel", name], check=False, capture_output=True)
    with contextlib.suppress(KeyError):
        grp.getgrnam(name)
        subprocess.run(["groupdel", name], check=False, capture_output=True)


@contextlib.contextmanager
def local_users(homes: Path, count: int, prefix: str = "vt") -> Iterator[list[PaneUser]]:
    names = [unique_name(prefix) for _ in range(count)]
    try:
        yield [add_user(name, homes / name) for name in names]
    finally:
        for name in names:
            remove_user(name)


def as_user(user: PaneUser, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run a command as `user` (setpriv), with a plain environment."""
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": user.home, "USER": user.name}
    return subprocess.run(
        ["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", "--init-groups", "--", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd="/",
    )
