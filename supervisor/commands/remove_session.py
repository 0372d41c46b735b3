"""Remove a session: stop its worker and its Claude.

Its attachments and log are kept unless --purge. Works with the supervisor down too
(then only the files change, and a leftover claude-session-N is ended).
"""

from __future__ import annotations

import argparse
import shutil

from vai.common.errors import BridgeError
from vai.common.exit_codes import EXIT_OK
from vai.protocol.layout import tmux_session_name
from vai.protocol.messages import RemoveSession
from vai.supervisor.commands._common import Context, expect_ok, positive
from vai.supervisor.control_client import SupervisorUnreachable
from vai.supervisor.sessions_file import load_sessions, save_sessions


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("session", type=positive, help="the session number")
    parser.add_argument(
        "--purge", action="store_true", help="also delete its attachments and its log"
    )


def execute(args: argparse.Namespace, ctx: Context) -> int:
    try:
        reply = ctx.ask(RemoveSession(session=args.session, purge=args.purge), 30.0)
        print(expect_ok(reply).text)
        return EXIT_OK
    except SupervisorUnreachable:
        pass
    config = ctx.config
    layout = config.layout
    sessions = load_sessions(layout.sessions_file, config.encryption_key)
    if args.session not in sessions:
        raise BridgeError(f"no session {args.session}")
    del sessions[args.session]
    save_sessions(layout.sessions_file, sessions, config.encryption_key)
    if shutil.which("tmux"):
        from vai.common.tmux import kill_session

        kill_session(config.tmux_socket, layout.run_dir, tmux_session_name(args.session))
    kept = " (attachments and log kept)"
    if args.purge:
        shutil.rmtree(layout.session_attachments(args.session), ignore_errors=True)
        layout.session_log(args.session).unlink(missing_ok=True)
        for old in layout.logs_dir.glob(f"{layout.session_log(args.session).name}.*"):
            old.unlink(missing_ok=True)
        kept = ""
    print(f"Session {args.session} removed{kept}")
    return EXIT_OK
