"""Start the supervisor in the background.

Its output goes to logs/supervisor.log. Exit 0 once it answers (or when it was already
running), 1 when it exits at start or does not answer within --timeout.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from vai.common.errors import BridgeError
from vai.common.exit_codes import EXIT_OK
from vai.protocol.messages import StatusRequest
from vai.supervisor.commands._common import Context, running_supervisor_pid
from vai.supervisor.control_client import SupervisorUnreachable


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds to wait for it (default 30)"
    )


def execute(args: argparse.Namespace, ctx: Context) -> int:
    layout = ctx.layout
    running = running_supervisor_pid(layout)
    if running is not None:
        print(f"the supervisor is already running (pid {running})")
        return EXIT_OK
    layout.logs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    log_path = layout.process_log("supervisor")
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "vai.supervisor", "run"],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
            env=dict(ctx.environ),
        )
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BridgeError(f"the supervisor exited at start; see {log_path}")
        try:
            ctx.ask(StatusRequest(), timeout=0.5)
            print(f"supervisor started (pid {process.pid}); logs in {layout.logs_dir}")
            return EXIT_OK
        except SupervisorUnreachable:
            time.sleep(0.1)
    raise BridgeError(f"the supervisor did not answer within {args.timeout:g}s; see {log_path}")
