"""Add a session for a Discord channel, live.

Prints `Success: Session N added`. The session gets the lowest free number. With the
supervisor running, its worker, its tmux session (claude-session-N) and its attachments
directory exist when this returns. Without it, the session is written to sessions.json
and starts with the supervisor.
"""

from __future__ import annotations

import argparse

from vai.common.exit_codes import EXIT_OK
from vai.protocol.messages import AddSession
from vai.supervisor.commands._common import Context, channel_id, expect_ok
from vai.supervisor.control_client import SupervisorUnreachable


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("channel_id", type=channel_id, help="the Discord channel's id")


def execute(args: argparse.Namespace, ctx: Context) -> int:
    try:
        print(expect_ok(ctx.ask(AddSession(channel_id=args.channel_id), 45.0)).text)
        return EXIT_OK
    except SupervisorUnreachable:
        pass
    # Only with the supervisor down, and only here: every `vai` command stays quick to start.
    from vai.supervisor.session_changes import add_offline

    print(add_offline(ctx.config, args.channel_id).text)
    return EXIT_OK
