"""Add a session for a Discord channel, live.

Prints `Success: Session N added`. The session gets the lowest free number. With the
supervisor running, its worker, its tmux session (claude-session-N) and its attachments
directory exist when this returns. Without it, the session is written to sessions.json
and starts with the supervisor.
"""

from __future__ import annotations

import argparse

from vai.common.errors import BridgeError
from vai.common.exit_codes import EXIT_OK
from vai.protocol.messages import AddSession
from vai.supervisor.commands._common import Context, channel_id, expect_ok
from vai.supervisor.control_client import SupervisorUnreachable
from vai.supervisor.sessions_file import load_sessions, next_session_number, save_sessions


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("channel_id", type=channel_id, help="the Discord channel's id")


def execute(args: argparse.Namespace, ctx: Context) -> int:
    try:
        print(expect_ok(ctx.ask(AddSession(channel_id=args.channel_id), 45.0)).text)
        return EXIT_OK
    except SupervisorUnreachable:
        pass
    config = ctx.config
    sessions = load_sessions(config.layout.sessions_file, config.encryption_key)
    for number, channel in sessions.items():
        if channel == args.channel_id:
            raise BridgeError(f"channel {args.channel_id} is already session {number}")
    number = next_session_number(sessions)
    config.layout.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    save_sessions(
        config.layout.sessions_file, {**sessions, number: args.channel_id}, config.encryption_key
    )
    config.layout.session_attachments(number).mkdir(mode=0o700, parents=True, exist_ok=True)
    print(f"Success: Session {number} added (the supervisor is not running: `vai start`)")
    return EXIT_OK
