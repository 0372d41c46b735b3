"""The shell command a pane runs to start Claude, as Claude's own OS user when there is one.

The tmux server stays the bridge's (the worker keeps driving it); only the pane's process
changes user, through util-linux's setpriv: real and effective uid and gid, the user's
groups, no capabilities left to inherit (nor in the bounding set, when the bridge is root
and so may drop them), and no_new_privs, so nothing Claude runs can gain privileges
through a setuid program. `env` then drops the variables that belong to the bridge's
user (its runtime dir, its agents) and sets the pane's own (HOME, USER, PATH...: no
secrets, which never reach the tmux server): on the command line, since tmux gives a
pane the PATH of the client that asked for it, whatever `-e` says. The umask 007 keeps
what Claude writes from others while the Claude users' group shares it. Pure: tested
without a pane.
"""

from __future__ import annotations

import shlex
import shutil

from vai.protocol.specs import PaneUser

PANE_UMASK_ISOLATED = "0007"


def setpriv_argv(user: PaneUser, root: bool, setpriv: str | None = None) -> list[str]:
    program = setpriv or shutil.which("setpriv") or "setpriv"
    argv = [
        program,
        f"--reuid={user.uid}",
        f"--regid={user.gid}",
        "--init-groups",
        "--inh-caps=-all",
    ]
    if root:  # dropping from the bounding set needs CAP_SETPCAP, which root has
        argv.append("--bounding-set=-all")
    return [*argv, "--no-new-privs", "--"]


def pane_command(
    claude_argv: list[str],
    user: PaneUser | None,
    *,
    env: dict[str, str],
    unset: list[str],
    root: bool,
    setpriv: str | None = None,
) -> str:
    argv = list(claude_argv)
    if env or unset:
        names = [f"--unset={name}" for name in unset]
        values = [f"{name}={value}" for name, value in sorted(env.items())]
        argv = ["env", *names, *values, *argv]
    if user is None:
        return "exec " + shlex.join(argv)
    argv = [*setpriv_argv(user, root, setpriv), *argv]
    return f"umask {PANE_UMASK_ISOLATED}; exec " + shlex.join(argv)
