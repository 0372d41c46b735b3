"""The environment of every process the supervisor and the CLI start: one deny-list.

The gateway, the workers, the tmux server (so every pane and Claude in it), `vai doctor`'s
`claude --version` probe, the memory-limit probes and `vai view`'s panes all get the
operator's environment minus the bridge's secrets: the bot token, the encryption key,
anything else named in .env (which systemd's EnvironmentFile= may have exported), and
systemd's hand-offs meant for the supervisor alone (NOTIFY_SOCKET, the watchdog, socket
activation), so no child can speak to systemd in its name. Only the gateway is handed
the token back, explicitly (supervisor.spawn_specs).

A deny-list rather than an allow-list: Claude needs the operator's own environment (PATH,
HOME, proxies, ANTHROPIC_* and CLAUDE_* settings), which the bridge cannot enumerate.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from vai.common.errors import ConfigError
from vai.supervisor.config import parse_env_file

BRIDGE_SECRETS = frozenset({"DISCORD_BOT_TOKEN", "ENCRYPTION_KEY"})
SUPERVISOR_ONLY = frozenset(
    {"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"}
)


def secret_names(env_file: Path | None) -> frozenset[str]:
    """Every name a child must not see: the bridge's secrets and whatever .env names."""
    names = BRIDGE_SECRETS | SUPERVISOR_ONLY
    if env_file is None:
        return names
    try:
        return names | parse_env_file(env_file).keys()
    except ConfigError:  # unreadable now: the fixed names still go
        return names


def child_environment(
    environ: Mapping[str, str] | None = None, env_file: Path | None = None
) -> dict[str, str]:
    """`environ` (default: this process's) without any secret of the bridge."""
    source = os.environ if environ is None else environ
    hidden = secret_names(env_file)
    return {name: value for name, value in source.items() if name not in hidden}
