"""Configuration from vai.toml, .env and the environment (env wins), as SPEC section 2.

Only the supervisor (and the CLI) read these files; the gateway and workers receive the
parts they need from the supervisor, so secrets go only where they are used.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

import msgspec

from vai.common.errors import ConfigError
from vai.protocol.ids import parse_id
from vai.protocol.layout import Layout
from vai.protocol.specs import PaneUser
from vai.supervisor.config_hosts import HostSection, HubSection

DEFAULT_API_URL = "https://discord.com/api/v10"
DEFAULT_GATEWAY_URL = "wss://gateway.discord.gg/"


class SessionDiscord(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[discord.sessions.N]`: who may talk to session N (replaces the global lists)."""

    allowed_users: list[int] | None = None
    allowed_roles: list[int] | None = None
    # New threads in the channel get sessions of their own (None: as `/threads` set it).
    threads: bool | None = None


class DiscordSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    api_url: str = DEFAULT_API_URL
    gateway_url: str = DEFAULT_GATEWAY_URL
    route_unmapped: Literal["ignore", "default"] = "ignore"
    default_session: int = 1
    # The bridge's owners (user ids): allowed everywhere, admins too. None: the
    # application's owner or team, as Discord reports it.
    owners: list[int] = msgspec.field(default_factory=list)
    allowed_users: list[int] = msgspec.field(default_factory=list)
    allowed_roles: list[int] = msgspec.field(default_factory=list)
    local_port: int = 8765
    catch_up_max_age: float = 3600.0
    # The gateway's front end (gateway.spec.GatewaySettings says what each does).
    admin_users: list[int] = msgspec.field(default_factory=list)
    admin_roles: list[int] = msgspec.field(default_factory=list)
    denied_reaction: str = "⛔"
    user_burst: int = 600
    user_per_minute: float = 300.0
    session_burst: int = 600
    session_per_minute: float = 300.0
    rate_limit_queue: int = 20
    progress: bool = True
    max_upload_bytes: int = 10 * 1024 * 1024
    reply_max_messages: int = 4
    requests_per_second: float = 40.0
    mention_on_wait: bool = True
    wait_reminder_s: float = 150.0
    usage_footer: bool = False
    # Thread sessions (`/threads on`): how many at once, and whether a thread's git
    # worktree is removed with its session (only when clean; never by default).
    max_thread_sessions: int = 5
    remove_worktrees: bool = False
    sessions: dict[str, SessionDiscord] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_thread_sessions < 0:
            raise ValueError("discord.max_thread_sessions must be 0 or more")
        if not 0 <= self.wait_reminder_s < 1e9:
            raise ValueError("discord.wait_reminder_s must be 0 (off) or a number of seconds")
        for key in self.sessions:
            if parse_id(key) is None:
                raise ValueError(f"discord.sessions: {key!r} is not a session number")

    def session_overrides(self, session: int) -> SessionDiscord | None:
        return self.sessions.get(str(session))


# A Linux user name (useradd's rule), after `{session}` is replaced.
USER_NAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


class SessionClaude(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[claude.sessions.N]`: who session N's Claude runs as (replaces [claude] user;
    "" runs it as the bridge's own user)."""

    user: str | None = None


def user_name_problem(template: str) -> str:
    """Why a `user` setting is not usable ("" if it is)."""
    if not template:
        return ""
    name = template.replace("{session}", "1")
    if not USER_NAME.match(name):
        return (
            f"{template!r} is not a user name (lower-case letters, digits, - and _;"
            " {session} for one user per session)"
        )
    return ""


class ClaudeSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    command: str = "claude"
    work_dir: str = ""
    # Where `/new` and `/bind` may point a session's work dir (absolute paths; the dirs
    # and everything below them). Empty: `work_dir` and below.
    work_dir_roots: list[str] = msgspec.field(default_factory=list)
    ready_timeout: float = 30.0
    # Permission prompts and Claude's questions wait this long for an answer in the
    # channel, then are denied (at most 540 s: Claude's hook timeout is 600 s).
    choice_timeout: float = 300.0
    # Start-up dialogs the worker accepts by itself; false: asked in the channel.
    trust_work_dir: bool = False
    approve_api_key: bool = False
    accept_bypass_permissions: bool = False
    # Cost and context window from Claude's statusLine: one short process per answer.
    report_cost: bool = False
    # The OS user Claude runs as, so a prompt-injected Claude cannot read the bridge's
    # token or files: "" (the bridge's own user: no isolation), a name shared by every
    # session, or a template with {session} for one user per session.
    user: str = ""
    sessions: dict[str, SessionClaude] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        for key, own in self.sessions.items():
            if parse_id(key) is None:
                raise ValueError(f"claude.sessions: {key!r} is not a session number")
            if own.user and (problem := user_name_problem(own.user)):
                raise ValueError(f"claude.sessions.{key}.user: {problem}")
        if problem := user_name_problem(self.user):
            raise ValueError(f"claude.user: {problem}")
        for root in self.work_dir_roots:
            if not Path(root).expanduser().is_absolute():
                raise ValueError(f"claude.work_dir_roots: {root!r} is not an absolute path")

    def user_for(self, session: int) -> str:
        """The user session N's Claude runs as ("" for the bridge's own)."""
        own = self.sessions.get(str(session))
        template = own.user if own is not None and own.user is not None else self.user
        return template.replace("{session}", str(session))

    def isolated(self) -> bool:
        """Whether any session's Claude has a user of its own."""
        return bool(self.user) or any(s.user for s in self.sessions.values())


class TmuxSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    socket: str = ""


class SupervisorSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    start_retries: int = 3
    start_secs: float = 0.5
    backoff_base: float = 1.0
    backoff_max: float = 30.0
    stop_grace: float = 5.0
    heartbeat_interval: float = 1.0
    # A child that dies after running this long restarts at once; sooner, it backs off.
    quiet_period: float = 10.0


class MonitoringSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[monitoring]`: how often metrics are collected and where they are offered."""

    interval: float = 5.0
    response_window: int = 5  # turns averaged for the response-time figure
    prometheus_port: int = 0  # 0: no Prometheus endpoint
    prometheus_host: str = "127.0.0.1"


class AlertsSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[alerts]`: thresholds that post an alert to the session's channel (seed design)."""

    enabled: bool = True
    memory_percent: float = 80.0  # of limits.session_memory_mb
    disk_percent: float = 90.0  # of limits.attachments_quota_mb
    response_ms: float = 3000.0
    recovery_margin_percent: float = 5.0  # back under threshold * (1 - margin) to recover
    sustain_s: float = 0.0  # over the threshold this long before alerting


class LimitsSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[limits]`: resources per session and in total (seed design)."""

    session_memory_mb: int = 512
    total_memory_mb: int = 2048
    attachments_quota_mb: int = 250
    enforce: Literal["auto", "cgroup", "systemd", "off"] = "auto"


class LogsSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[logs]`: size-based rotation of every file under logs/."""

    max_bytes: int = 10 * 1024 * 1024
    backups: int = 5


class AttachmentsSection(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[attachments]`: what a worker downloads into attachments/session_N/ (the quota per
    session is limits.attachments_quota_mb)."""

    max_file_mb: float = 50.0
    max_age_hours: float = 24.0  # older files are removed (never a queued message's)
    per_session_downloads: int = 5
    total_downloads: int = 20


class FileConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    discord: DiscordSection = msgspec.field(default_factory=DiscordSection)
    claude: ClaudeSection = msgspec.field(default_factory=ClaudeSection)
    tmux: TmuxSection = msgspec.field(default_factory=TmuxSection)
    supervisor: SupervisorSection = msgspec.field(default_factory=SupervisorSection)
    monitoring: MonitoringSection = msgspec.field(default_factory=MonitoringSection)
    alerts: AlertsSection = msgspec.field(default_factory=AlertsSection)
    limits: LimitsSection = msgspec.field(default_factory=LimitsSection)
    logs: LogsSection = msgspec.field(default_factory=LogsSection)
    attachments: AttachmentsSection = msgspec.field(default_factory=AttachmentsSection)
    hub: HubSection = msgspec.field(default_factory=HubSection)
    host: HostSection = msgspec.field(default_factory=HostSection)


class Config(msgspec.Struct, frozen=True, kw_only=True):
    """Everything resolved: file values, then .env, then the environment."""

    layout: Layout
    token: str | None
    encryption_key: str | None
    api_url: str
    gateway_url: str
    claude_command: list[str]
    claude_work_dir: str
    tmux_socket: str
    file: FileConfig

    @property
    def uses_local_discord(self) -> bool:
        """No token: the gateway embeds a local Discord-compatible server."""
        return not self.token


def home_from_env(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    raw = environ.get("VAI_HOME") or "~/.claude-discord-bridge"
    return Path(raw).expanduser().absolute()


def parse_env_file(path: Path) -> dict[str, str]:
    """`.env` lines: KEY=VALUE, optional `export `, quotes and # comments."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read: {exc}") from None
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = line.removeprefix("export ").strip()
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise ConfigError(path, f"line {number} is not KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def load_file_config(path: Path) -> FileConfig:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return FileConfig()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, f"invalid TOML: {exc}") from None
    try:
        return msgspec.convert(raw, FileConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(path, str(exc)) from None


def load_config(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Config:
    environ = dict(os.environ if environ is None else environ)
    layout = Layout(str(home_from_env(environ)))
    file = load_file_config(layout.config_file)
    dotenv = parse_env_file(layout.env_file)

    def setting(name: str, fallback: str) -> str:
        return environ.get(name) or dotenv.get(name) or fallback

    command = setting("VAI_CLAUDE_COMMAND", file.claude.command)
    try:
        claude_command = shlex.split(command)
    except ValueError as exc:
        raise ConfigError(layout.config_file, f"claude command {command!r}: {exc}") from None
    if not claude_command:
        raise ConfigError(layout.config_file, "the claude command is empty")
    work_dir = setting("VAI_CLAUDE_WORK_DIR", file.claude.work_dir) or str(cwd or Path.cwd())
    return Config(
        layout=layout,
        token=setting("DISCORD_BOT_TOKEN", "") or None,
        encryption_key=setting("ENCRYPTION_KEY", "") or None,
        api_url=setting("VAI_DISCORD_API_URL", file.discord.api_url).rstrip("/"),
        gateway_url=setting("VAI_DISCORD_GATEWAY_URL", file.discord.gateway_url),
        claude_command=claude_command,
        claude_work_dir=str(Path(work_dir).expanduser().absolute()),
        tmux_socket=setting("VAI_TMUX_SOCKET", file.tmux.socket) or layout.default_tmux_socket(),
        file=file,
    )


STANDIN_CLAUDE = Path(__file__).resolve().parent.parent / "worker" / "standin_claude.py"


def resolve_claude(config: Config, environ: Mapping[str, str] | None = None) -> tuple[Config, str]:
    """Check the Claude command exists; in local demo mode fall back to the stand-in.

    Returns the config to use and a note for the operator (empty when nothing changed).
    """
    environ = os.environ if environ is None else environ
    program = config.claude_command[0]
    if shutil.which(program) or Path(program).is_file():
        return config, ""
    explicit = bool(environ.get("VAI_CLAUDE_COMMAND")) or config.file.claude.command != "claude"
    if config.uses_local_discord and not explicit:
        # A Claude user of its own may not enter the bridge's venv: the system Python.
        system = Path("/usr/bin/python3")
        isolated = config.file.claude.isolated() and system.is_file()
        command = [str(system) if isolated else sys.executable, str(STANDIN_CLAUDE)]
        note = (
            "`claude` is not installed: the local demo uses the offline stand-in"
            " (install Claude Code, or set VAI_CLAUDE_COMMAND, for the real thing)"
        )
        return msgspec.structs.replace(config, claude_command=command), note
    raise ConfigError(
        config.layout.config_file,
        f"the claude command {program!r} was not found: install Claude Code"
        " (npm install -g @anthropic-ai/claude-code) or set VAI_CLAUDE_COMMAND",
    )


# What belongs to the bridge's user (its runtime dir, agents, config dirs): a Claude of
# its own user gets none of it. XDG_* goes too.
BRIDGE_USER_ONLY = frozenset(
    {
        "CLAUDE_CONFIG_DIR",
        "DBUS_SESSION_BUS_ADDRESS",
        "GNUPGHOME",
        "GPG_AGENT_INFO",
        "KRB5CCNAME",
        "MAIL",
        "OLDPWD",
        "SSH_AGENT_PID",
        "SSH_AUTH_SOCK",
        "TMPDIR",
        "VIRTUAL_ENV",
        "XAUTHORITY",
    }
)
SANE_PATH = "/usr/local/bin:/usr/bin:/bin"


def pane_environment(
    environ: Mapping[str, str], layout: Layout, session: int, user: PaneUser | None
) -> tuple[dict[str, str], list[str]]:
    """What a session's pane sets on top of the tmux server's environment (which already
    lacks every secret of the bridge, supervisor/child_env.py), and the names it drops.

    The pane's `dp` (run/session-N/bin) comes first on PATH. A Claude of its own user
    gets that user's HOME, USER, LOGNAME and SHELL and a PATH of its own (its
    ~/.local/bin, then the system's), and nothing that points into the bridge's user.
    """
    pane_bin = str(layout.pane_bin(session))
    if user is None:
        return {"PATH": f"{pane_bin}:{environ.get('PATH') or SANE_PATH}"}, []
    env = {
        "HOME": user.home,
        "USER": user.name,
        "LOGNAME": user.name,
        "SHELL": user.shell,
        "PATH": f"{pane_bin}:{user.home}/.local/bin:{SANE_PATH}",
    }
    unset = sorted(n for n in environ if n in BRIDGE_USER_ONLY or n.startswith("XDG_"))
    return env, unset
