"""List sessions: number, channel, work dir.

Read from sessions.json when the supervisor is not running.
"""

from __future__ import annotations

import argparse

from vai.common.errors import BridgeError
from vai.common.exit_codes import EXIT_OK
from vai.common.status_view import render_sessions
from vai.protocol.messages import ListSessions, SessionInfo, SessionsReply
from vai.supervisor.commands._common import Context
from vai.supervisor.control_client import SupervisorUnreachable
from vai.supervisor.sessions_file import load_sessions


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON document for scripts")


def execute(args: argparse.Namespace, ctx: Context) -> int:
    config = ctx.config
    try:
        reply = ctx.ask(ListSessions(), timeout=5.0)
        if not isinstance(reply, SessionsReply):
            raise BridgeError(f"unexpected answer {type(reply).__name__}")
        infos = reply.sessions
    except SupervisorUnreachable:
        sessions = load_sessions(config.layout.sessions_file, config.encryption_key)
        infos = [
            SessionInfo(session=s, channel_id=c, work_dir=config.claude_work_dir)
            for s, c in sorted(sessions.items())
        ]
    if args.json:
        import json

        rows = [{"session": i.session, "channel_id": str(i.channel_id), "work_dir": i.work_dir}
                for i in infos]  # fmt: skip
        print(json.dumps(rows, indent=2))
    else:
        print(render_sessions(infos))
    return EXIT_OK
