"""Run the supervisor in the foreground (systemd's ExecStart).

Starts the gateway and one worker per session, restarts them when they die, and serves
`vai` and `dp`. Under systemd (Type=notify) it sends READY=1 once every session is
RUNNING, WATCHDOG=1 at half of WatchdogSec, and STOPPING=1 when it stops. SIGTERM or
SIGINT stop everything cleanly. Logs go to stderr (the journal under systemd) and to
logs/supervisor.log.
"""

from __future__ import annotations

import argparse
import asyncio

from vai.supervisor.commands._common import Context


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="log debug lines too")


def execute(args: argparse.Namespace, ctx: Context) -> int:
    import logging

    from vai.common.logs import setup_logging
    from vai.supervisor.server import Supervisor

    config = ctx.config
    setup_logging(
        "supervisor",
        logging.DEBUG if args.debug else logging.INFO,
        log_file=config.layout.process_log("supervisor"),
    )
    return asyncio.run(Supervisor(config).run())
