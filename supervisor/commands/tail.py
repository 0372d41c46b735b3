"""Show a log: session N, gateway or supervisor; -f follows it.

Logs live in logs/ under VAI_HOME and are rotated by size (NAME.log.1 is the previous
part); following survives a rotation.
"""

from __future__ import annotations

import argparse
import os
import shutil

from vai.common.errors import BridgeError
from vai.protocol.ids import id_problem, parse_id
from vai.supervisor.commands._common import Context

PROCESSES = ("gateway", "supervisor")


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("target", type=target, help="a session number, gateway or supervisor")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new lines")
    parser.add_argument(
        "-n", "--lines", type=int, default=50, help="lines to show first (default 50)"
    )


def target(text: str) -> str | int:
    """argparse type: a process name or a session number (anything else: exit 2)."""
    if text in PROCESSES:
        return text
    number = parse_id(text)
    if number is None:
        raise argparse.ArgumentTypeError(id_problem(text, "session number, gateway or supervisor"))
    return number


def execute(args: argparse.Namespace, ctx: Context) -> int:
    layout = ctx.layout
    chosen: str | int = args.target
    path = layout.process_log(chosen) if isinstance(chosen, str) else layout.session_log(chosen)
    if not path.exists():
        raise BridgeError(f"no log yet at {path}")
    program = shutil.which("tail")
    if program is None:
        raise BridgeError("the `tail` program is missing (install coreutils)")
    argv = ["tail", "-n", str(max(args.lines, 0)), *(["-F"] if args.follow else []), str(path)]
    os.execv(program, argv)
