"""`vai reload` and SIGHUP: vai.toml (and .env) read again, applied where it can be live.

Pure: given the running config and a freshly loaded one, `plan_reload` says what the
supervisor uses from now on and which changed settings fall in which group:

- applied now: who may talk to Claude (owners, allow lists, admins, per-session lists, the
  denied reaction, routing of unmapped channels), the rate limits and queue, who a choice
  pings and when it reminds them (mention_on_wait, wait_reminder_s), alerts,
  monitoring (but the response window) and log rotation;
- applied when the process next starts (`vai restart [N]`): everything a worker or the
  gateway gets at spawn ([claude], [attachments], the gateway's other [discord] settings,
  the bot token);
- kept until the supervisor itself restarts: [supervisor], [tmux], [limits],
  monitoring.response_window and ENCRYPTION_KEY (the inbox and sessions.json are
  encrypted with the running one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from vai.supervisor.config import Config, FileConfig

LIVE: dict[str, set[str] | None] = {  # section -> keys (None: every key)
    "discord": {
        "owners",
        "allowed_users",
        "allowed_roles",
        "admin_users",
        "admin_roles",
        "denied_reaction",
        "user_burst",
        "user_per_minute",
        "session_burst",
        "session_per_minute",
        "rate_limit_queue",
        "progress",
        "mention_on_wait",
        "wait_reminder_s",
        "usage_footer",
        "sessions",
        "route_unmapped",
        "default_session",
        "max_thread_sessions",
        "remove_worktrees",
    },
    "claude": {"work_dir_roots"},
    "alerts": None,
    "monitoring": {"interval", "prometheus_port", "prometheus_host"},
    "logs": None,
}
KEPT: dict[str, set[str] | None] = {
    "supervisor": None,
    "tmux": None,
    "limits": None,
    "monitoring": {"response_window"},
}


def _in(groups: dict[str, set[str] | None], section: str, key: str) -> bool:
    if section not in groups:
        return False
    keys = groups[section]
    return keys is None or key in keys


@dataclass
class ReloadPlan:
    config: Config
    live: list[str] = field(default_factory=list)
    next_start: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        if not (self.live or self.next_start or self.kept):
            return ["reloaded: nothing changed"]
        lines = []
        if self.live:
            lines.append(f"applied now: {', '.join(self.live)}")
        if self.next_start:
            lines.append(
                f"applied when each process next starts (`vai restart` for all, `vai restart"
                f" N` for one session): {', '.join(self.next_start)}"
            )
        if self.kept:
            lines.append(
                f"NOT applied, needs the supervisor restarted (`vai stop && vai start`, or"
                f" `systemctl restart vai`): {', '.join(self.kept)}"
            )
        return lines


def _changed(old: FileConfig, new: FileConfig) -> list[tuple[str, str]]:
    before: dict[str, Any] = msgspec.to_builtins(old)
    after: dict[str, Any] = msgspec.to_builtins(new)
    found = []
    for section in FileConfig.__struct_fields__:
        a, b = before.get(section, {}), after.get(section, {})
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                found.append((section, key))
    return found


def plan_reload(running: Config, fresh: Config) -> ReloadPlan:
    """What to run with from now on, and what changed where.

    `fresh` is load_config's result with the Claude command already resolved (and wrapped
    in the memory limits' prefix, as the running one is).
    """
    plan = ReloadPlan(config=running)
    for section, key in _changed(running.file, fresh.file):
        name = f"{section}.{key}"
        if _in(LIVE, section, key):
            plan.live.append(name)
        elif _in(KEPT, section, key):
            plan.kept.append(name)
        else:
            plan.next_start.append(name)
    # Settings from .env and the environment (vai.toml's own values are counted above).
    demo_switch = (running.token is None) != (fresh.token is None)
    for label, old, new in (
        ("the bot token", running.token, running.token if demo_switch else fresh.token),
        (
            "the Discord URLs",
            (running.api_url, running.gateway_url),
            (fresh.api_url, fresh.gateway_url),
        ),
        ("the Claude command", running.claude_command, fresh.claude_command),
        ("Claude's work dir", running.claude_work_dir, fresh.claude_work_dir),
    ):
        if old != new and label not in plan.next_start:
            plan.next_start.append(label)
    if demo_switch:
        plan.kept.append("the bot token (between the local demo Discord and a real one)")
    if fresh.encryption_key != running.encryption_key:
        plan.kept.append("ENCRYPTION_KEY")
    if fresh.tmux_socket != running.tmux_socket and "tmux.socket" not in plan.kept:
        plan.kept.append("the tmux socket")
    file = msgspec.structs.replace(
        fresh.file,
        supervisor=running.file.supervisor,
        tmux=running.file.tmux,
        limits=running.file.limits,
        monitoring=msgspec.structs.replace(
            fresh.file.monitoring, response_window=running.file.monitoring.response_window
        ),
    )
    plan.config = msgspec.structs.replace(
        running,
        token=running.token if demo_switch else fresh.token,
        api_url=fresh.api_url,
        gateway_url=fresh.gateway_url,
        claude_command=fresh.claude_command,
        claude_work_dir=fresh.claude_work_dir,
        file=file,
    )
    return plan
