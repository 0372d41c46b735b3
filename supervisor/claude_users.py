"""The OS users Claude runs as (`[claude] user`): looked up, made when root may, checked.

A Claude of its own user cannot read the bridge's token, state or logs, nor reach the
bus and control sockets; it reaches only its session's run/session-N/ and attachments,
through its group (worker/session_files.py). Switching to it takes root, or CAP_SETUID
and CAP_SETGID (deploy/vai.service grants those to a service user).

Users made here are system users with a home of their own under /var/lib (a system
unit's ProtectHome hides /home) and bash (Claude's Bash tool needs a shell). Users made
from a template (`vai-claude-{session}`) also join the group the template names without
`{session}` (`vai-claude`), which owns the work dir they share.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

from vai.common.errors import BridgeError
from vai.protocol.specs import PaneUser
from vai.supervisor.config import ClaudeSection

CAP_SETGID, CAP_SETUID = 6, 7
HOMES = Path("/var/lib")
SHELL = "/bin/bash"
SYSTEM_PYTHON = Path("/usr/bin/python3")


def lookup(name: str) -> PaneUser | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return PaneUser(
        name=entry.pw_name,
        uid=entry.pw_uid,
        gid=entry.pw_gid,
        home=entry.pw_dir,
        shell=entry.pw_shell or SHELL,
    )


def effective_capabilities(status: str | None = None) -> int:
    """This process's effective capability set (from /proc/self/status)."""
    if status is None:
        try:
            status = Path("/proc/self/status").read_text()
        except OSError:
            return 0
    for line in status.splitlines():
        if line.startswith("CapEff:"):
            return int(line.split()[1], 16)
    return 0


def can_switch_users() -> bool:
    """Root, or both CAP_SETUID and CAP_SETGID (what setpriv needs)."""
    if os.geteuid() == 0:
        return True
    wanted = (1 << CAP_SETUID) | (1 << CAP_SETGID)
    return effective_capabilities() & wanted == wanted


def shared_group(template: str) -> str:
    """The group of the users a template makes: `vai-claude-{session}` -> `vai-claude`;
    a plain name is its own group."""
    if "{session}" not in template:
        return template
    return template.replace("{session}", "").strip("-_.") or "vai-claude"


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except KeyError:
        return False
    return True


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise BridgeError(f"`{' '.join(argv)}` failed: {done.stderr.strip() or done.returncode}")


def create_user(name: str, group: str | None = None) -> PaneUser:
    """A system user for Claude (root only); `group`: a supplementary group to join,
    made if missing."""
    if shutil.which("useradd") is None:
        raise BridgeError("useradd is not installed: create the user by hand")
    home = HOMES / name
    argv = ["useradd", "--system", "--user-group", "--create-home", "--home-dir", str(home)]
    argv += ["--shell", SHELL, "--comment", "Claude Code for claude-discord-bridge"]
    if group and group != name:
        if not group_exists(group):
            _run(["groupadd", "--system", group])
        argv += ["--groups", group]
    _run([*argv, name])
    user = lookup(name)
    if user is None:
        raise BridgeError(f"useradd made no user {name}")
    os.chmod(user.home, 0o750)  # the bridge's group may read transcripts; nobody else
    return user


def join_group(member: str, group: str) -> None:
    """Make `member` (the bridge's user, when it is not root) a member of `group`."""
    try:
        if member in grp.getgrnam(group).gr_mem:
            return
    except KeyError:
        raise BridgeError(f"no group {group}") from None
    _run(["usermod", "--append", "--groups", group, member])


def resolve(section: ClaudeSection, session: int, create: bool) -> tuple[PaneUser | None, str]:
    """Session N's Claude user and, when it cannot be used, why (never silently None:
    a Claude meant to be isolated must not run as the bridge's user)."""
    name = section.user_for(session)
    if not name:
        return None, ""
    user = lookup(name)
    if user is None and create:
        try:
            user = create_user(name, shared_group(section.user) if section.user else None)
        except BridgeError as exc:
            return None, f"session {session}: cannot create Claude's user {name}: {exc}"
    if user is None:
        return None, (
            f"session {session}: Claude's user {name} ([claude] user) does not exist:"
            " `vai doctor --fix` as root creates it"
        )
    if user.uid == 0:
        return None, f"session {session}: Claude's user {name} is root: choose another"
    if user.uid == os.geteuid():
        return None, (
            f"session {session}: Claude's user {name} is the bridge's own user: set"
            ' [claude] user to another (or to "" to run without isolation)'
        )
    if not can_switch_users():
        return None, (
            f"session {session}: the bridge cannot run Claude as {name}: it is not root and"
            " lacks CAP_SETUID and CAP_SETGID (deploy/vai.service grants them)"
        )
    return user, ""


def pane_python() -> str:
    """An interpreter any user can run, for the stdlib-only pane clients: the system's
    (the bridge's own venv may sit in a home no other user can enter)."""
    if SYSTEM_PYTHON.is_file() and os.stat(SYSTEM_PYTHON).st_mode & 0o001:
        return str(SYSTEM_PYTHON)
    return sys.executable
