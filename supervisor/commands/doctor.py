"""Check the machine and the bridge's files; say how to fix each problem.

Checks tmux and its version, the Claude CLI and its version, the bot token (never shown;
with a token it logs in to the configured Discord API and checks the Message Content
intent), the permissions of VAI_HOME, run/, .env and the attachment directories, stale
pid files and sockets, Claude's work dir, whether memory limits can be enforced
(cgroups), and who Claude runs as: without a user of its own, a loud warning; with one,
probes as that user of what it must not reach. `--fix` applies the safe fixes, and as
root creates the Claude users vai.toml names. Exit 0 when nothing failed (warnings
allowed), 1 when something did.
"""

from __future__ import annotations

import argparse

from vai.common.exit_codes import EXIT_ERROR, EXIT_OK
from vai.supervisor.commands._common import Context, running_supervisor_pid
from vai.supervisor.doctor import render, repair, run_checks


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--offline", action="store_true", help="do not log in to Discord")
    parser.add_argument(
        "--fix",
        action="store_true",
        help="apply the safe fixes (permissions, stale files; as root, Claude's users)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="show problems only")


def execute(args: argparse.Namespace, ctx: Context) -> int:
    environ = dict(ctx.environ)
    report = run_checks(environ, running_supervisor_pid, online=not args.offline)
    if args.fix:
        for line in repair(report):
            print(line)
        report = run_checks(environ, running_supervisor_pid, online=not args.offline)
    print(render(report, verbose=not args.quiet))
    return EXIT_ERROR if report.failures else EXIT_OK
