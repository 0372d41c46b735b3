"""Show a log: session N, gateway, supervisor, or all of them; -f follows it.

`vai tail all` interleaves every log by time, each line prefixed with its source
(sessions added meanwhile are followed too). Logs live in logs/ under VAI_HOME and are
rotated by size (NAME.log.1 is the previous part); following survives a rotation.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time

from vai.common.errors import BridgeError
from vai.protocol.ids import id_problem, parse_id
from vai.supervisor.commands._common import Context

PROCESSES = ("gateway", "supervisor")
ALL = "all"
FOLLOW_EVERY = 0.2


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", type=target, help="a session number, gateway, supervisor or all")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    parser.add_argument(
        "-n", "--lines", type=int, default=50, help="lines to show first (default 50)"
    )


def target(text: str) -> str | int:
    """argparse type: a process name or a session number (anything else: exit 2)."""
    if text in (*PROCESSES, ALL):
        return text
    number = parse_id(text)
    if number is None:
        raise argparse.ArgumentTypeError(
            id_problem(text, "session number, gateway, supervisor or all")
        )
    return number


def execute(args: argparse.Namespace, ctx: Context) -> int:
    layout = ctx.layout
    chosen: str | int = args.target
    if chosen == ALL:
        return tail_all(ctx, max(args.lines, 0), args.follow)
    path = layout.process_log(chosen) if isinstance(chosen, str) else layout.session_log(chosen)
    if not path.exists():
        raise BridgeError(f"no log yet at {path}")
    program = shutil.which("tail")
    if program is None:
        raise BridgeError("the `tail` program is missing (install coreutils)")
    argv = ["tail", "-n", str(max(args.lines, 0)), *(["-F"] if args.follow else []), str(path)]
    os.execv(program, argv)


def tail_all(ctx: Context, lines: int, follow: bool) -> int:
    from vai.supervisor.log_merge import Follower, last_lines, merge, sources, stamped

    layout = ctx.layout
    found = sources(layout)
    if not found and not follow:
        raise BridgeError(f"no logs yet in {layout.logs_dir}")
    width = max([len(name) for name in found] + [len("supervisor")])
    follower = Follower(layout)
    follower.start_at_end()  # before reading: nothing written meanwhile is missed
    recent = merge(stamped(name, last_lines(path, lines)) for name, path in found.items())
    for line in recent[-lines:] if lines else []:
        print(line.render(width))
    sys.stdout.flush()
    while follow:
        for line in follower.poll():
            print(line.render(max(width, len(line.source))))
        sys.stdout.flush()
        time.sleep(FOLLOW_EVERY)
    return 0
