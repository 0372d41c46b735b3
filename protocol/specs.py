"""What the supervisor tells each child at spawn time (JSON in an environment variable).

Pure data: the contract between the supervisor and the processes it starts. Nothing here
is secret: a worker reads no configuration file and never sees the bot token; the secrets
(the child's bus keys, and the gateway's bot token) come through the inherited pipe whose
descriptor `secrets_fd` names (common.child_secrets). Per-session allow lists travel in
the SessionMap's routes, since sessions come and go while the gateway runs.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from vai.protocol.layout import Layout

WORKER_SPEC_ENV = "VAI_WORKER_SPEC"
GATEWAY_SPEC_ENV = "VAI_GATEWAY_SPEC"


class PaneUser(msgspec.Struct, frozen=True, kw_only=True):
    """The OS user Claude runs as when it is not the bridge's own (`[claude] user`)."""

    name: str
    uid: int
    gid: int
    home: str
    shell: str = "/bin/bash"


class WorkerSpec(msgspec.Struct, frozen=True, kw_only=True):
    session: int
    channel_id: int
    home: str
    tmux_socket: str
    claude_command: list[str]
    work_dir: str
    ready_timeout: float = 30.0
    heartbeat_interval: float = 1.0
    # Permission prompts and questions wait this long for the channel, then are denied.
    choice_timeout: float = 300.0
    # Start-up dialogs the worker accepts by itself; the others are asked in the channel.
    trust_work_dir: bool = False
    approve_api_key: bool = False
    accept_bypass_permissions: bool = False
    # Attachments (worker/attachments.py).
    attachments_max_file_mb: float = 50.0
    attachments_quota_mb: float = 250.0
    attachments_max_age_hours: float = 24.0
    attachments_per_session: int = 5
    attachments_total: int = 20
    # Claude's own OS user (None: the bridge's user); a non-empty problem means the user
    # cannot be used, and the worker stops with it rather than run Claude unisolated.
    claude_user: PaneUser | None = None
    claude_user_problem: str = ""
    # The pane's environment on top of the tmux server's: set, and names to drop.
    pane_env: dict[str, str] = msgspec.field(default_factory=dict)
    pane_env_unset: list[str] = msgspec.field(default_factory=list)
    # The interpreter for the stdlib-only clients a pane runs (hooks, `dp`).
    pane_python: str = ""
    # A pane's `dp --file` bigger than this is refused (the gateway's upload limit).
    upload_limit: int = 10 * 1024 * 1024
    # How long a turn's answer may wait for its token use to reach the transcript (the
    # answer's footer shows it; 0: not at all, it then counts with the next turn).
    usage_wait: float = 0.0
    # Install the statusLine command that reports the CLI's cost ([claude] report_cost).
    status_line: bool = False
    # The inherited pipe that holds this worker's secrets (-1: none given).
    secrets_fd: int = -1

    @property
    def layout(self) -> Layout:
        return Layout(self.home)


class GatewaySettings(msgspec.Struct, frozen=True, kw_only=True):
    """The `[discord]` settings of vai.toml that the gateway acts on."""

    allowed_users: list[int] = msgspec.field(default_factory=list)
    allowed_roles: list[int] = msgspec.field(default_factory=list)
    # The bridge's owners: allowed everywhere, admins too. None configured: the
    # application's owner (or its team) as Discord reports it at login.
    owners: list[int] = msgspec.field(default_factory=list)
    # May run /add-session; allowed everywhere.
    admin_users: list[int] = msgspec.field(default_factory=list)
    admin_roles: list[int] = msgspec.field(default_factory=list)
    # Put on a message from someone not allowed, once per person per hour ("" = never).
    denied_reaction: str = "⛔"
    # Token buckets for messages to Claude; a burst of 0 turns a limit off. The defaults
    # stop runaway floods (a script, a compromised account) without ever slowing a
    # person, or the SPEC's bursts; tighten them for shared servers.
    user_burst: int = 600
    user_per_minute: float = 300.0
    session_burst: int = 600
    session_per_minute: float = 300.0
    # Over a limit a message waits its turn (⏳); beyond this many waiting per user (or
    # per session) one is refused and the sender told it was not sent. 0: refuse at once.
    rate_limit_queue: int = 20
    # One message per turn, edited as tools run.
    progress: bool = True
    # Discord's per-file limit without boosts; bigger files get a clear error instead.
    max_upload_bytes: int = 10 * 1024 * 1024
    # An answer that needs more messages than this goes as a file.
    reply_max_messages: int = 4
    # The bridge's own pace for REST calls, under Discord's global 50/s.
    requests_per_second: float = 40.0
    # A permission prompt, a question or a start-up dialog pings the author of the message
    # whose turn asks (the supervisor checked it is one), and once more after
    # `wait_reminder_s` without an answer (half the choice's timeout if that is not
    # sooner than its expiry; 0: never).
    mention_on_wait: bool = True
    wait_reminder_s: float = 150.0
    # A small-text line under each answer: tokens in/out, cost where the CLI reports it,
    # context used. Off: answers are exactly Claude's words.
    usage_footer: bool = False


class GatewaySpec(msgspec.Struct, frozen=True, kw_only=True):
    home: str
    api_url: str
    gateway_url: str
    local_discord: bool = False
    local_port: int = 0
    heartbeat_interval: float = 1.0
    catch_up_max_age: float = 3600.0
    settings: GatewaySettings = msgspec.field(default_factory=GatewaySettings)
    # The inherited pipe that holds the gateway's secrets (-1: none given).
    secrets_fd: int = -1

    @property
    def layout(self) -> Layout:
        return Layout(self.home)


Spec = TypeVar("Spec", WorkerSpec, GatewaySpec)


def encode_spec(spec: WorkerSpec | GatewaySpec) -> str:
    return msgspec.json.encode(spec).decode()


def decode_spec(text: str, kind: type[Spec]) -> Spec:
    return msgspec.json.decode(text, type=kind)
