"""Watch every Claude pane at once, tiled in tmux.

Builds the tmux session `vai-view` on the bridge's tmux server: one pane per running
session, each a read-only tmux client of that session's claude-session-N (--interactive
lets you type), tiled in as many windows as your terminal fits (C-b n for the next one),
then attaches your terminal to it. Detaching (C-b d) ends the view; Claude is untouched.
"""

from __future__ import annotations

import argparse
import math
import os
import shlex
import shutil
import sys

from vai.common.errors import BridgeError
from vai.common.exit_codes import EXIT_OK
from vai.protocol.layout import tmux_session_name
from vai.supervisor.commands._common import Context
from vai.supervisor.commands.attach import tmux_or_fail

VIEW_SESSION = "vai-view"
MIN_PANE_WIDTH, MIN_PANE_HEIGHT = 20, 5


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--interactive", action="store_true", help="let keys typed in a pane reach its Claude"
    )
    parser.add_argument("--per-window", type=int, default=0, help="panes per window at most")
    parser.add_argument(
        "--no-attach", action="store_true", help="build the view and print how to attach"
    )


def claude_sessions(socket: str) -> list[int]:
    from vai.common.tmux import tmux_run

    done = tmux_run(socket, "list-sessions", "-F", "#{session_name}")
    prefix = tmux_session_name(0)[:-1]
    numbers = [
        int(name.removeprefix(prefix))
        for name in done.stdout.split()
        if name.startswith(prefix) and name.removeprefix(prefix).isdigit()
    ]
    return sorted(numbers)


def panes_per_window(width: int, height: int, limit: int = 0) -> int:
    """The most panes a tiled window of this size holds at the minimum pane size."""
    best = 1
    for count in range(1, 257):
        columns = math.ceil(math.sqrt(count))
        rows = math.ceil(count / columns)
        if (width - columns + 1) // columns >= MIN_PANE_WIDTH and (
            height - rows + 1
        ) // rows >= MIN_PANE_HEIGHT:
            best = count
    return min(best, limit) if limit > 0 else best


def pane_command(socket: str, session: int, interactive: bool) -> str:
    flags = "ignore-size" if interactive else "read-only,ignore-size"
    target = f"={tmux_session_name(session)}"
    attach = ["tmux", "-L", socket, "attach-session", "-f", flags, "-t", target]
    return "exec env -u TMUX " + shlex.join(attach)


def build_view(
    socket: str,
    sessions: list[int],
    size: tuple[int, int],
    *,
    per_window: int = 0,
    interactive: bool = False,
) -> list[list[int]]:
    """(Re)create the view session; the sessions shown in each window."""
    from vai.common.tmux import tmux_run

    def tmux(*args: str) -> None:
        done = tmux_run(socket, *args)
        if done.returncode != 0:
            raise BridgeError(f"tmux {args[0]} failed: {done.stderr.strip()}")

    tmux_run(socket, "kill-session", "-t", f"={VIEW_SESSION}")
    for number in sessions:
        # The bridge reads Claude's screen at the size it chose: clients never resize it.
        tmux_run(socket, "set-option", "-w", "-t", f"={tmux_session_name(number)}:",
                 "window-size", "manual")  # fmt: skip
    width, height = size
    count = panes_per_window(width, height, per_window)
    windows = [sessions[i : i + count] for i in range(0, len(sessions), count)]
    for index, group in enumerate(windows):
        name = f"view-{index + 1}"
        first = pane_command(socket, group[0], interactive)
        if index == 0:
            tmux("new-session", "-d", "-s", VIEW_SESSION, "-x", str(width), "-y", str(height),
                 "-n", name, first)  # fmt: skip
            for option, value in (
                ("pane-border-status", "top"),
                ("pane-border-format", " #{pane_title} "),
                ("status-left", "[vai view] "),
                ("status-left-length", "20"),
            ):
                tmux("set-option", "-t", f"={VIEW_SESSION}:", option, value)
        else:
            tmux("new-window", "-d", "-t", f"={VIEW_SESSION}:", "-n", name, first)
        target = f"={VIEW_SESSION}:{name}"
        tmux("select-pane", "-t", f"{target}.0", "-T", f"session {group[0]}")
        for number in group[1:]:
            tmux("split-window", "-d", "-t", target, pane_command(socket, number, interactive))
            tmux("select-layout", "-t", target, "tiled")
        for position, number in enumerate(group):
            tmux("select-pane", "-t", f"{target}.{position}", "-T", f"session {number}")
        tmux("select-layout", "-t", target, "tiled")
    return windows


def execute(args: argparse.Namespace, ctx: Context) -> int:
    program = tmux_or_fail()
    if not args.no_attach and not sys.stdin.isatty():
        raise BridgeError("vai view needs a terminal (or --no-attach to build it for later)")
    socket = ctx.config.tmux_socket
    sessions = claude_sessions(socket)
    if not sessions:
        raise BridgeError("no Claude session is running (see `vai status`)")
    columns, lines = shutil.get_terminal_size((200, 50))
    size = (columns, max(lines - 1, MIN_PANE_HEIGHT))
    windows = build_view(
        socket, sessions, size, per_window=args.per_window, interactive=args.interactive
    )
    summary = f"{len(sessions)} session(s) in {len(windows)} window(s)"
    if args.no_attach:
        print(f"{VIEW_SESSION}: {summary}; attach with: tmux -L {socket} attach -t {VIEW_SESSION}")
        return EXIT_OK
    env = {k: v for k, v in ctx.environ.items() if k != "TMUX"}
    # Once attached, the view goes away with its last client (set before, it would go now).
    argv = ["tmux", "-L", socket, "attach-session", "-t", f"={VIEW_SESSION}", ";",
            "set-option", "-t", f"={VIEW_SESSION}:", "destroy-unattached", "on"]  # fmt: skip
    os.execve(program, argv, env)
