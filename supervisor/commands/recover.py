"""Restart a session now, whatever its state; clears FATAL.

The worker is restarted and adopts the Claude pane (or starts Claude again, resuming its
conversation). Exit 4 when the supervisor is not running: `vai start` starts every
session anyway.
"""

from __future__ import annotations

import argparse

from vai.common.exit_codes import EXIT_OK
from vai.protocol.messages import RecoverSession
from vai.supervisor.commands._common import Context, expect_ok, positive


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", type=positive, help="the session number")


def execute(args: argparse.Namespace, ctx: Context) -> int:
    print(expect_ok(ctx.ask(RecoverSession(session=args.session), 30.0)).text)
    return EXIT_OK
