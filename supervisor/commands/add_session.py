"""Add a session for a Discord channel, live.

Prints `Success: Session N added`. The session gets the lowest free number. With the
supervisor running, its worker, its tmux session (claude-session-N) and its attachments
directory exist when this returns. Without it, the session is written to sessions.json
and starts with the supervisor. `--work-dir` gives the session its own Claude work dir
(any existing directory: the operator decides; `/new` from Discord is confined), `--name`
a name shown in `vai list-sessions`.
"""

from __future__ import annotations

import argparse

from vai.common.exit_codes import EXIT_OK
from vai.protocol.messages import AddSession
from vai.protocol.session_settings import SessionSettings
from vai.supervisor.commands._common import Context, channel_id, expect_ok
from vai.supervisor.control_client import SupervisorUnreachable


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("channel_id", type=channel_id, help="the Discord channel's id")
    parser.add_argument("--work-dir", default="", help="Claude's work dir for this session")
    parser.add_argument("--name", default="", help="a name for the session")


def execute(args: argparse.Namespace, ctx: Context) -> int:
    settings = None
    if args.work_dir or args.name:
        settings = SessionSettings(
            channel_id=args.channel_id, work_dir=args.work_dir, name=args.name
        )
    try:
        request = AddSession(channel_id=args.channel_id, settings=settings)
        print(expect_ok(ctx.ask(request, 45.0)).text)
        return EXIT_OK
    except SupervisorUnreachable:
        pass
    # Only with the supervisor down, and only here: every `vai` command stays quick to start.
    from vai.supervisor.session_changes import add_offline

    print(add_offline(ctx.config, args.channel_id, settings).text)
    return EXIT_OK
