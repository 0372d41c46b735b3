"""Remove a session: stop its worker and its Claude, and forget its conversation.

Its attachments and logs are kept unless --purge (which deletes rotated logs too); a
channel that later gets the same number starts a new Claude conversation either way.
Works with the supervisor down too (then only the files change, and a leftover
claude-session-N is ended).
"""

from __future__ import annotations

import argparse

from vai.common.exit_codes import EXIT_OK
from vai.protocol.messages import RemoveSession
from vai.supervisor.commands._common import Context, expect_ok, positive
from vai.supervisor.control_client import SupervisorUnreachable


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", type=positive, help="the session number")
    parser.add_argument(
        "--purge", action="store_true", help="also delete its attachments and its logs"
    )


def execute(args: argparse.Namespace, ctx: Context) -> int:
    try:
        reply = ctx.ask(RemoveSession(session=args.session, purge=args.purge), 30.0)
        print(expect_ok(reply).text)
        return EXIT_OK
    except SupervisorUnreachable:
        pass
    # Only with the supervisor down, and only here: every `vai` command stays quick to start.
    from vai.supervisor.session_changes import remove_offline

    print(remove_offline(ctx.config, args.session, args.purge).text)
    return EXIT_OK
