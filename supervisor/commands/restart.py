"""Restart a session's worker and its Claude, or (without N) every session and the gateway.

Claude ends and starts again, resuming its conversation; messages in flight are not lost
(the inbox keeps them). Unlike `vai recover` (the worker only, Claude untouched) this also
restarts Claude. Without N: every session, then the gateway, one at a time; the
supervisor keeps running (`vai stop && vai start` restarts it). A session the operator
stopped stays stopped (`vai start-session N`). Exit 4 when the supervisor is not running.
"""

from __future__ import annotations

import argparse

from vai.common.exit_codes import EXIT_OK
from vai.protocol.messages import RestartSessions
from vai.supervisor.commands._common import Context, expect_ok, positive


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "session",
        type=positive,
        nargs="?",
        help="the session number (default: all, and the gateway)",
    )


def execute(args: argparse.Namespace, ctx: Context) -> int:
    timeout = 60.0 if args.session is not None else 60.0 + 20.0 * _session_count(ctx)
    print(expect_ok(ctx.ask(RestartSessions(session=args.session), timeout)).text)
    return EXIT_OK


def _session_count(ctx: Context) -> int:
    from vai.supervisor.sessions_file import load_sessions

    return len(load_sessions(ctx.layout.sessions_file, ctx.config.encryption_key))
