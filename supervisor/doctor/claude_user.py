"""Who Claude runs as, and what it can reach: checked by trying, as that user.

Without a user of its own Claude runs as the bridge and can read the bot token, so that
is a loud warning, with what a prompt-injected Claude could do. With one, doctor (when
it may switch users: root, or CAP_SETUID+CAP_SETGID) runs probes as that user with
setpriv: the bridge's secrets, state, logs, sockets and the supervisor's environment
must be out of reach, its own session's key and the work dir within it. `--fix` (as
root) creates missing users, puts the bridge's user in their groups and gives the work
dir to their group.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from vai.protocol.layout import Layout
from vai.protocol.specs import PaneUser
from vai.supervisor import claude_users
from vai.supervisor.config import SANE_PATH, Config
from vai.supervisor.doctor.findings import Finding, fail, ok, warn
from vai.supervisor.isolation import bridge_user

WORK_DIR_MODE = 0o2070  # the group may write; new files and dirs keep the group


@dataclass(frozen=True)
class Probe:
    """`test FLAG PATH` as Claude's user, and whether it should succeed."""

    what: str
    flag: str
    path: Path
    allowed: bool


def as_user(user: PaneUser, argv: list[str], timeout: float = 20) -> int:
    """Run `argv` as `user` (setpriv); its exit status, or -1 if it cannot run."""
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return -1
    command = [setpriv, f"--reuid={user.uid}", f"--regid={user.gid}", "--init-groups", "--"]
    env = {"PATH": f"{user.home}/.local/bin:{SANE_PATH}", "HOME": user.home, "USER": user.name}
    try:
        done = subprocess.run(
            [*command, *argv],
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
            cwd="/",
        )
    except (OSError, subprocess.TimeoutExpired):
        return -1
    return done.returncode


def no_isolation() -> Finding:
    root = os.geteuid() == 0
    fix = (
        'set [claude] user = "vai-claude" in vai.toml and run `vai doctor --fix` (it creates'
        " the user; Claude logs in again as that user), then restart the bridge"
        if root or claude_users.can_switch_users()
        else "no second user is possible here (not root, no CAP_SETUID): run the bridge as"
        " a system service (deploy/vai.service) to isolate Claude; until then, trust"
        " Claude with everything the bridge has"
    )
    return warn(
        f"NO ISOLATION: Claude runs as {bridge_user()}, the bridge's own user. A"
        " prompt-injected Claude can read the bot token (.env is its user's file),"
        " the inbox and the logs, post to any channel and forge its hooks",
        fix,
    )


def probes(layout: Layout, user: PaneUser, own: list[int], others: list[int]) -> list[Probe]:
    found = [
        Probe(".env", "-r", layout.env_file, False),
        Probe("vai.toml", "-r", layout.config_file, False),
        Probe("sessions.json", "-r", layout.sessions_file, False),
        Probe("VAI_HOME's listing", "-r", layout.root, False),
        Probe("state/", "-x", layout.state_dir, False),
        Probe("logs/", "-x", layout.logs_dir, False),
        Probe("the control socket", "-w", layout.control_socket, False),
        Probe("the bus socket", "-w", layout.bus_socket, False),
    ]
    found += [Probe(f"session {n}'s key", "-r", layout.hook_key(n), True) for n in own]
    found += [Probe(f"session {n}'s key", "-r", layout.hook_key(n), False) for n in others]
    return [p for p in found if p.path.exists() or p.path.is_socket()]


def check_user(
    config: Config, name: str, own: list[int], others: list[int], supervisor_pid: int | None
) -> Iterator[Finding]:
    user = claude_users.lookup(name)
    layout = config.layout
    if user is None:
        template = config.file.claude.user
        group = claude_users.shared_group(template) if template else None

        def create() -> None:
            claude_users.create_user(name, group)

        yield fail(
            f"Claude's user {name} does not exist: sessions {own} cannot start",
            "`vai doctor --fix` as root creates it (or: useradd --system --user-group"
            f" --create-home --home-dir /var/lib/{name} --shell /bin/bash {name})",
            _as_root(create),
        )
        return
    if user.uid == 0 or user.uid == os.geteuid():
        yield fail(f"Claude's user {name} is uid {user.uid}: that is no isolation")
        return
    yield from _membership(layout, user)
    if not claude_users.can_switch_users():
        yield fail(
            f"the bridge cannot run Claude as {name}: not root, no CAP_SETUID+CAP_SETGID",
            "run it as root or as deploy/vai.service (AmbientCapabilities)",
        )
        return
    reached = [p.what for p in probes(layout, user, own, others) if _reached(user, p)]
    environ = f"/proc/{supervisor_pid}/environ"
    if supervisor_pid is not None and as_user(user, ["test", "-r", environ]) == 0:
        reached.append("the supervisor's environment")
    if reached:
        yield fail(
            f"Claude's user {name} can reach what it must not: {', '.join(reached)}",
            "`vai doctor --fix`, then restart the bridge (`vai stop`, `vai start`)",
        )
    else:
        yield ok(
            f"Claude runs as {name} (uid {user.uid}): it cannot read .env, state/, logs/ or"
            " the supervisor's environment, nor reach the bus and control sockets"
        )
    yield from _work_dir(config, user)
    python = claude_users.pane_python()
    if as_user(user, [python, "-I", "-S", "-c", "pass"]) != 0:
        yield fail(
            f"{name} cannot run {python} (the hook client's interpreter): hooks would fail",
            "apt-get install python3",
        )
    program = config.claude_command[0]
    if as_user(user, ["sh", "-c", 'command -v "$0"', program]) != 0:
        yield warn(
            f"{name} cannot find or run the Claude command {program!r}",
            f"install Claude Code for {name} (npm install -g @anthropic-ai/claude-code,"
            f" or its installer as {name}), or set [claude] command to a path it can run",
        )


def _reached(user: PaneUser, probe: Probe) -> bool:
    """A probe whose outcome is not the expected one (reached, or not reached)."""
    status = as_user(user, ["test", probe.flag, str(probe.path)])
    return (status == 0) != probe.allowed if status >= 0 else False


def _membership(layout: Layout, user: PaneUser) -> Iterator[Finding]:
    """A bridge that is not root must be in the Claude user's group (session folders)."""
    try:
        owner = layout.root.stat().st_uid
    except OSError:
        return
    if owner == 0:
        return
    try:
        member = pwd.getpwuid(owner).pw_name
        group = grp.getgrgid(user.gid)
    except KeyError:
        return
    if member in group.gr_mem or pwd.getpwuid(owner).pw_gid == user.gid:
        return
    yield fail(
        f"the bridge's user {member} is not in {group.gr_name}, the group of Claude's user:"
        " it cannot share the session folders with it",
        f"usermod --append --groups {group.gr_name} {member} (as root), then restart the bridge",
        _as_root(lambda: claude_users.join_group(member, group.gr_name)),
    )


def _work_dir(config: Config, user: PaneUser) -> Iterator[Finding]:
    work = Path(config.claude_work_dir)
    if not work.is_dir():
        return
    layout_root = config.layout.root.resolve()
    if work.resolve() == layout_root or layout_root in work.resolve().parents:
        yield fail(
            f"Claude's work dir {work} is inside VAI_HOME",
            "set [claude] work_dir to a directory of its own",
        )
        return
    if as_user(user, ["sh", "-c", 'test -w "$0" && test -x "$0"', str(work)]) == 0:
        yield ok(f"{user.name} can write Claude's work dir {work}")
        return
    group = claude_users.shared_group(config.file.claude.user or user.name)
    gid = _gid(group, user.gid)

    def share() -> None:
        os.chown(work, -1, gid)
        os.chmod(work, work.stat().st_mode & 0o7777 | WORK_DIR_MODE)

    yield fail(
        f"{user.name} cannot write Claude's work dir {work} (or reach it)",
        f"chgrp {group} {work} && chmod g+rwxs {work}; every directory above it must let"
        " others through (o+x)",
        _as_root(share),
    )


def _gid(group: str, fallback: int) -> int:
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        return fallback


def _as_root(repair: Callable[[], None]) -> Callable[[], None] | None:
    return repair if os.geteuid() == 0 else None


def check_isolation(
    config: Config, sessions: list[int], supervisor_pid: int | None
) -> Iterator[Finding]:
    section = config.file.claude
    numbers = sessions or [1]
    users: dict[str, list[int]] = {}
    for session in numbers:
        users.setdefault(section.user_for(session), []).append(session)
    if "" in users:
        if len(users) == 1:
            yield no_isolation()
            return
        yield warn(
            f"NO ISOLATION for sessions {users['']}: Claude runs there as the bridge's own"
            " user and can read the bot token",
            'set [claude] user (or remove [claude.sessions.N] user = "")',
        )
    for name, own in users.items():
        if name:
            others = [n for n in numbers if n not in own]
            yield from check_user(config, name, own, others, supervisor_pid)
