"""Stop one session (its worker and its Claude) until `vai start-session N`.

It stays STOPPED (by operator) across supervisor restarts, and nothing restarts it on its
own. Messages sent to its channel meanwhile wait in the inbox and reach Claude, in order,
when it starts; Claude resumes its conversation then. Works with the supervisor down too
(it then stays stopped when the supervisor starts).
"""

from __future__ import annotations

import argparse

from vai.common.exit_codes import EXIT_OK
from vai.protocol.messages import StopSession
from vai.supervisor.commands._common import Context, expect_ok, positive
from vai.supervisor.control_client import SupervisorUnreachable


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", type=positive, help="the session number")


def execute(args: argparse.Namespace, ctx: Context) -> int:
    try:
        print(expect_ok(ctx.ask(StopSession(session=args.session), 30.0)).text)
        return EXIT_OK
    except SupervisorUnreachable:
        pass
    from vai.supervisor.session_changes import hold_offline

    print(hold_offline(ctx.config, args.session, True).text)
    return EXIT_OK
