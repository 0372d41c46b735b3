"""The command line and environment of each child: what it may know, and nothing more.

No secret is in either: the bot token and the bus keys go through the inherited pipe
whose descriptor the spec names (common/child_secrets.py, supervisor/children.py).

A supervisor that may switch users without being root (CAP_SETUID and CAP_SETGID as
ambient capabilities: deploy/vai.service) passes them to the workers and the tmux server
(which start Claude as its own user) but not to the gateway, which reads Discord.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import TYPE_CHECKING

from vai.protocol.specs import (
    GATEWAY_SPEC_ENV,
    WORKER_SPEC_ENV,
    GatewaySettings,
    GatewaySpec,
    WorkerSpec,
    encode_spec,
)
from vai.supervisor import claude_users
from vai.supervisor.child_env import child_environment
from vai.supervisor.config import Config, pane_environment

if TYPE_CHECKING:
    from vai.supervisor.config import DiscordSection

# With the usage footer on, a turn's answer waits up to this long for the CLI to write
# the turn's last API call to its transcript (3-500 ms measured after the Stop hook).
USAGE_WAIT = 1.0


def worker_command(
    config: Config, session: int, channel_id: int, secrets_fd: int = -1, work_dir: str = ""
) -> tuple[list[str], dict[str, str]]:
    """`work_dir`: the session's own (sessions.json), "" for the global `[claude] work_dir`."""
    user, problem = claude_users.resolve(config.file.claude, session, create=os.geteuid() == 0)
    env = child_environment(env_file=config.layout.env_file)
    pane_env, pane_unset = pane_environment(env, config.layout, session, user)
    spec = WorkerSpec(
        session=session,
        channel_id=channel_id,
        home=config.layout.home,
        tmux_socket=config.tmux_socket,
        claude_command=config.claude_command,
        work_dir=work_dir or config.claude_work_dir,
        ready_timeout=config.file.claude.ready_timeout,
        heartbeat_interval=config.file.supervisor.heartbeat_interval,
        choice_timeout=config.file.claude.choice_timeout,
        trust_work_dir=config.file.claude.trust_work_dir,
        approve_api_key=config.file.claude.approve_api_key,
        accept_bypass_permissions=config.file.claude.accept_bypass_permissions,
        attachments_max_file_mb=config.file.attachments.max_file_mb,
        attachments_quota_mb=config.file.limits.attachments_quota_mb,
        attachments_max_age_hours=config.file.attachments.max_age_hours,
        attachments_per_session=config.file.attachments.per_session_downloads,
        attachments_total=config.file.attachments.total_downloads,
        claude_user=user,
        claude_user_problem=problem,
        pane_env=pane_env,
        pane_env_unset=pane_unset,
        pane_python=claude_users.pane_python(),
        upload_limit=config.file.discord.max_upload_bytes,
        usage_wait=USAGE_WAIT if config.file.discord.usage_footer else 0.0,
        status_line=config.file.claude.report_cost,
        secrets_fd=secrets_fd,
    )
    env[WORKER_SPEC_ENV] = encode_spec(spec)
    env["PYTHONUNBUFFERED"] = "1"
    return [sys.executable, "-m", "vai.worker"], env


def gateway_command(config: Config, secrets_fd: int = -1) -> tuple[list[str], dict[str, str]]:
    spec = GatewaySpec(
        home=config.layout.home,
        api_url=config.api_url,
        gateway_url=config.gateway_url,
        local_discord=config.uses_local_discord,
        local_port=config.file.discord.local_port,
        heartbeat_interval=config.file.supervisor.heartbeat_interval,
        catch_up_max_age=config.file.discord.catch_up_max_age,
        settings=gateway_settings(config.file.discord),
        secrets_fd=secrets_fd,
    )
    env = child_environment(env_file=config.layout.env_file)
    env[GATEWAY_SPEC_ENV] = encode_spec(spec)
    env["PYTHONUNBUFFERED"] = "1"
    argv = [sys.executable, "-m", "vai.gateway"]
    setpriv = shutil.which("setpriv")
    if os.geteuid() != 0 and claude_users.effective_capabilities() and setpriv:
        # Clearing the inheritable set clears the ambient one: the gateway keeps none.
        argv = [setpriv, "--inh-caps=-all", "--", *argv]
    return argv, env


def gateway_settings(section: DiscordSection) -> GatewaySettings:
    """The gateway's part of the `[discord]` section."""
    names = [name for name in GatewaySettings.__struct_fields__ if hasattr(section, name)]
    return GatewaySettings(**{name: getattr(section, name) for name in names})
