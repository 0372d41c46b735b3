"""Show every session's state, like `supervisorctl status`.

The gateway first, then every session. Columns: session, channel, state (STARTING,
RUNNING, BACKOFF, FATAL...), worker pid, uptime, Claude's state (idle, busy, waiting for
permission...), queued messages, and memory (the worker plus Claude's whole process
tree). `--usage` adds each session's tokens in and out (cost where the CLI reported
it, context used); `--json` always has them. A session that is not running says
why at the end of its line (STOPPED, stopped by operator: `vai start-session N`). With
the embedded local Discord (no bot token), the chat page's address, with this run's key.

Exit codes: 0 all RUNNING, 3 something is not, 4 the supervisor is unreachable.
"""

from __future__ import annotations

import argparse
import json
import sys

from vai.common.errors import BridgeError
from vai.common.exit_codes import EXIT_UNREACHABLE
from vai.common.status_view import (
    render_status,
    status_document,
    status_exit_code,
    unreachable_document,
)
from vai.common.usage_view import usage_lines
from vai.protocol.messages import StatusReply, StatusRequest
from vai.supervisor.commands._common import Context
from vai.supervisor.control_client import SupervisorUnreachable


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON document for scripts")
    parser.add_argument(
        "--usage", action="store_true", help="each session's tokens (and cost, where known)"
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, help="seconds to wait for an answer (default 5)"
    )


def execute(args: argparse.Namespace, ctx: Context) -> int:
    try:
        reply = ctx.ask(StatusRequest(), timeout=args.timeout)
    except SupervisorUnreachable as exc:
        if args.json:
            print(json.dumps(unreachable_document(str(exc)), indent=2))
        print(f"vai: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if not isinstance(reply, StatusReply):
        raise BridgeError(f"unexpected answer {type(reply).__name__}")
    if args.json:
        print(json.dumps(status_document(reply), indent=2))
    else:
        print(render_status(reply, operator=True))
        if args.usage:
            print("\nUsage since each session was added:")
            print("\n".join(f"  {line}" for line in usage_lines(reply.sessions)))
    return status_exit_code(reply)
