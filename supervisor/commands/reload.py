"""Read vai.toml (and .env) again and apply what can be applied live.

Applied at once: the allow lists and admins (global and per session), the denied
reaction, routing of unmapped channels, the rate limits and their queue, progress
messages, alerts, monitoring (interval, Prometheus endpoint) and log rotation. Applied
when each process next starts (`vai restart [N]`): [claude], [attachments], the bot
token and the gateway's other [discord] settings. Kept until the supervisor restarts:
[supervisor], [tmux], [limits], monitoring.response_window and ENCRYPTION_KEY. The
answer says which of the changed settings went where. SIGHUP to the supervisor does the
same (`systemctl reload vai`). A file that cannot be read changes nothing (exit 1).
"""

from __future__ import annotations

import argparse

from vai.common.exit_codes import EXIT_OK
from vai.protocol.messages import ReloadConfig
from vai.supervisor.commands._common import Context, expect_ok


def setup(parser: argparse.ArgumentParser) -> None:
    pass


def execute(args: argparse.Namespace, ctx: Context) -> int:
    print(expect_ok(ctx.ask(ReloadConfig(), 15.0)).text)
    return EXIT_OK
