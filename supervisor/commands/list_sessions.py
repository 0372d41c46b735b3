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
from vai.supervisor.sessions_file import load_entries


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
        entries = load_entries(config.layout.sessions_file, config.encryption_key)
        infos = [
            SessionInfo(
                session=n,
                channel_id=e.channel_id,
                work_dir=e.work_dir or config.claude_work_dir,
                settings=e,
            )
            for n, e in sorted(entries.items())
        ]
    if args.json:
        import json

        rows = [json_row(i) for i in infos]
        print(json.dumps(rows, indent=2))
    else:
        print(render_sessions(infos))
    return EXIT_OK


def json_row(info: SessionInfo) -> dict[str, str | int]:
    row: dict[str, str | int] = {
        "session": info.session,
        "channel_id": str(info.channel_id),
        "work_dir": info.work_dir,
    }
    settings = info.settings
    if settings is not None:
        row |= {"name": settings.name, "kind": settings.kind, "host": settings.host}
        if settings.is_thread:
            row["parent_channel_id"] = str(settings.parent_channel_id)
        if settings.worktree:
            row["worktree"] = settings.worktree
    return row
