"""Run the supervisor in the foreground (systemd's ExecStart).

Starts the gateway and one worker per session, restarts them when they die, and serves
`vai` and `dp`. Under systemd (Type=notify) it sends READY=1 once it serves (the
gateway and the sessions spawned, whatever becomes of them), a STATUS= line on every
state change ("4 of 5 sessions running; session 3 FATAL (...)"), WATCHDOG=1 at half of
WatchdogSec, and STOPPING=1 when it stops. SIGTERM or SIGINT stop everything cleanly;
SIGHUP reloads vai.toml as `vai reload` does (`systemctl reload vai`). Logs go to
stderr (the journal under systemd) and to logs/supervisor.log. Everything it writes
under VAI_HOME is mode 0600 (directories 0700), whatever the umask; Claude keeps yours.
It is non-dumpable (no process of your user can read its memory or /proc/PID/environ),
and once the configuration is read the secrets (DISCORD_BOT_TOKEN, ENCRYPTION_KEY,
whatever .env names) leave its environment.
"""

from __future__ import annotations

import argparse
import asyncio

from vai.supervisor.commands._common import Context


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="log debug lines too")
    parser.add_argument(
        "--host",
        action="store_true",
        help="run as a host agent of a hub ([host] in vai.toml): this machine's sessions,"
        " no gateway, no inbox",
    )


def execute(args: argparse.Namespace, ctx: Context) -> int:
    import logging

    from vai.common.errors import ConfigError
    from vai.common.logs import name_ids, setup_logging
    from vai.common.secrecy import hide_environment, make_undumpable
    from vai.supervisor.child_env import SUPERVISOR_ONLY, secret_names
    from vai.supervisor.isolation import NONE_MARK, describe
    from vai.supervisor.private_files import private_umask, tighten
    from vai.supervisor.server import Supervisor
    from vai.supervisor.sessions_file import load_sessions

    make_undumpable()
    config = ctx.config
    hide_environment(secret_names(config.layout.env_file) - SUPERVISOR_ONLY)
    private_umask()
    tighten(config.layout, traversable=config.file.claude.isolated())
    setup_logging(
        "supervisor",
        logging.DEBUG if args.debug else logging.INFO,
        log_file=config.layout.process_log("supervisor"),
    )
    try:
        sessions = load_sessions(config.layout.sessions_file, config.encryption_key)
    except ConfigError:
        pass  # the supervisor's start says it, alone
    else:
        isolation = describe(config.file.claude, sessions)
        level = logging.WARNING if isolation.startswith(NONE_MARK) else logging.INFO
        logging.getLogger("supervisor").log(level, "isolation: %s", isolation)
    if args.host:
        from vai.supervisor.hub.host_agent import HostAgent

        agent = HostAgent(config)
        name_ids(lambda: {c: channel_name(n) for n, c in agent.peers.placed.items()})
        return asyncio.run(agent.run())
    supervisor = Supervisor(config, environ=ctx.environ)
    name_ids(lambda: {c: channel_name(n) for n, c in supervisor.known_sessions().items()})
    return asyncio.run(supervisor.run())


def channel_name(session: int) -> str:
    """How logs show a session's channel id (never in plain text: it may be private)."""
    return f"[channel of session {session}]"
