"""Start a session that `vai stop-session N` stopped.

Its worker and Claude start (Claude resumes its conversation), and the messages that
waited meanwhile are delivered, in order. Works with the supervisor down too (the
session then starts with the supervisor).
"""

from __future__ import annotations

import argparse

from vai.common.exit_codes import EXIT_OK
from vai.protocol.messages import StartSession
from vai.supervisor.commands._common import Context, expect_ok, positive
from vai.supervisor.control_client import SupervisorUnreachable


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", type=positive, help="the session number")


def execute(args: argparse.Namespace, ctx: Context) -> int:
    try:
        print(expect_ok(ctx.ask(StartSession(session=args.session), 30.0)).text)
        return EXIT_OK
    except SupervisorUnreachable:
        pass
    from vai.supervisor.session_changes import hold_offline

    print(hold_offline(ctx.config, args.session, False).text)
    return EXIT_OK
