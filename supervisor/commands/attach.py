"""Attach your terminal to a session's Claude pane (tmux).

Detach with C-b d. Typing there reaches Claude directly, outside the bridge;
--read-only only watches. Your terminal's size does not change the pane's (the bridge
reads the screen).
"""

from __future__ import annotations

import argparse
import os
import shutil

from vai.common.errors import BridgeError
from vai.protocol.layout import tmux_session_name
from vai.supervisor.child_env import child_environment
from vai.supervisor.commands._common import Context, positive


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", type=positive, help="the session number")
    parser.add_argument("-r", "--read-only", action="store_true", help="watch, do not type")


def tmux_or_fail() -> str:
    program = shutil.which("tmux")
    if program is None:
        raise BridgeError("tmux is not installed (e.g. apt-get install tmux)")
    return program


def execute(args: argparse.Namespace, ctx: Context) -> int:
    from vai.common.tmux import tmux_run

    program = tmux_or_fail()
    socket = ctx.config.tmux_socket
    name = tmux_session_name(args.session)
    if tmux_run(socket, "has-session", "-t", f"={name}").returncode != 0:
        raise BridgeError(f"no tmux session {name} (is session {args.session} running?)")
    # The bridge reads Claude's screen at the size it chose: clients never resize it.
    tmux_run(socket, "set-option", "-w", "-t", f"={name}:", "window-size", "manual")
    flags = "read-only,ignore-size" if args.read_only else "ignore-size"
    env = child_environment(ctx.environ, ctx.layout.env_file)
    env.pop("TMUX", None)
    os.execve(program, ["tmux", "-L", socket, "attach-session", "-f", flags, "-t", f"={name}"], env)
