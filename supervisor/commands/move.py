"""Move a session to another host: stop it where it runs, start it there (issue 15).

HOST is the hub's own name ([hub] name, default "hub") or a host in [hub.hosts]. The
answer says what is carried (the channel, the messages waiting in the inbox) and what is
lost (Claude's pane and turn in progress on the old host; the conversation, unless you
copy its transcript first, as the answer explains).
"""

from __future__ import annotations

import argparse

from vai.common.exit_codes import EXIT_OK
from vai.protocol.messages import MoveSession
from vai.supervisor.commands._common import Context, expect_ok, positive


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", type=positive, help="the session number")
    parser.add_argument("--to", required=True, metavar="HOST", help="the host to run it on")


def execute(args: argparse.Namespace, ctx: Context) -> int:
    print(expect_ok(ctx.ask(MoveSession(session=args.session, host=args.to), 60.0)).text)
    return EXIT_OK
