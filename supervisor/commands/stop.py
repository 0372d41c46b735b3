"""Stop everything cleanly: supervisor, gateway, workers, Claude sessions.

Each worker ends its Claude pane, then the gateway stops, then the supervisor exits.
Exit 0 when everything stopped (or nothing was running), 1 when it did not stop within
--timeout.
"""

from __future__ import annotations

import argparse
import time

from vai.common.errors import BridgeError
from vai.common.exit_codes import EXIT_OK
from vai.protocol.messages import StopAll
from vai.supervisor.commands._common import Context, expect_ok, running_supervisor_pid
from vai.supervisor.control_client import SupervisorUnreachable


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for it (default 30)"
    )


def execute(args: argparse.Namespace, ctx: Context) -> int:
    layout = ctx.layout
    try:
        expect_ok(ctx.ask(StopAll(), timeout=min(args.timeout, 10.0)))
    except SupervisorUnreachable:
        print("the supervisor is not running")
        return EXIT_OK
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline and running_supervisor_pid(layout) is not None:
        time.sleep(0.05)
    pid = running_supervisor_pid(layout)
    if pid is not None:
        raise BridgeError(f"the supervisor (pid {pid}) did not stop within {args.timeout:g}s")
    print("stopped")
    return EXIT_OK
