"""Where everything lives under VAI_HOME (SPEC section 2): pure path rules, no I/O."""

from __future__ import annotations

import hashlib
from pathlib import Path

import msgspec

# A Unix socket path must fit in sockaddr_un.sun_path (108 bytes with the NUL).
MAX_SOCKET_PATH = 107


class Layout(msgspec.Struct, frozen=True):
    """The bridge's files for one VAI_HOME."""

    home: str

    @property
    def root(self) -> Path:
        return Path(self.home)

    @property
    def config_file(self) -> Path:
        return self.root / "vai.toml"

    @property
    def env_file(self) -> Path:
        return self.root / ".env"

    @property
    def sessions_file(self) -> Path:
        return self.root / "sessions.json"

    @property
    def attachments_dir(self) -> Path:
        return self.root / "attachments"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def monitoring_dir(self) -> Path:
        return self.root / "monitoring"

    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def inbox_db(self) -> Path:
        return self.state_dir / "inbox.sqlite3"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "supervisor.pid"

    @property
    def bus_socket(self) -> Path:
        return self.run_dir / "bus.sock"

    @property
    def host_key(self) -> Path:
        """This machine's CURVE keypair as a host agent (`vai init --host`)."""
        return self.root / "host.key"

    @property
    def hub_key(self) -> Path:
        """The hub's CURVE keypair, made at its first start with `[hub] listen`."""
        return self.root / "hub.key"

    @property
    def control_socket(self) -> Path:
        return self.run_dir / "control.sock"

    def session_attachments(self, session: int) -> Path:
        return self.attachments_dir / f"session_{session}"

    def session_log(self, session: int) -> Path:
        return self.logs_dir / f"session_{session}.log"

    def process_log(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    def session_run_dir(self, session: int) -> Path:
        """What session N's Claude may reach, and nothing else: its hook socket, spool,
        settings, key and clients (group: the session's Claude user; worker/session_files.py)."""
        return self.run_dir / f"session-{session}"

    def hook_socket(self, session: int) -> Path:
        return self.session_run_dir(session) / "hook.sock"

    def hook_spool(self, session: int) -> Path:
        """Hook events the client could not hand to a live worker wait here."""
        return self.session_run_dir(session) / "hook.spool"

    def hook_key(self, session: int) -> Path:
        """The secret every hook event and pane `dp` of the session carries."""
        return self.session_run_dir(session) / "hook.key"

    def claude_settings(self, session: int) -> Path:
        return self.session_run_dir(session) / "claude-settings.json"

    def hook_client(self, session: int) -> Path:
        return self.session_run_dir(session) / "hook_client.py"

    def pane_bin(self, session: int) -> Path:
        """First on the pane's PATH: `dp` here posts to the session's own channel."""
        return self.session_run_dir(session) / "bin"

    def pane_dp(self, session: int) -> Path:
        return self.pane_bin(session) / "dp"

    def outgoing_dir(self, session: int) -> Path:
        """Files a pane's `dp` sent, kept (private) until the gateway has posted them."""
        return self.state_dir / "outgoing" / f"session_{session}"

    def session_state(self, session: int) -> Path:
        return self.state_dir / f"session_{session}.json"

    def worker_lock(self, session: int) -> Path:
        """Held by the one worker of a session (flock), with its pid in it."""
        return self.run_dir / f"worker-{session}.lock"

    def removed_dir(self) -> Path:
        """Files kept from removed sessions, set aside when their number is reused."""
        return self.root / "removed"

    def default_tmux_socket(self) -> str:
        """A tmux `-L` name private to this VAI_HOME, so two bridges never share panes."""
        digest = hashlib.sha1(str(self.root.resolve()).encode()).hexdigest()[:10]
        return f"vai-{digest}"

    def socket_paths(self) -> list[Path]:
        return [self.bus_socket, self.control_socket, self.hook_socket(99999)]


def tmux_session_name(session: int) -> str:
    return f"claude-session-{session}"


def ipc_endpoint(path: Path) -> str:
    return f"ipc://{path}"


DISCORD_EPOCH_MS = 1_420_070_400_000


def snowflake_at(unix_seconds: float) -> int:
    """The smallest Discord id of a message created at that time (ids are time-ordered)."""
    return max(0, int(unix_seconds * 1000) - DISCORD_EPOCH_MS) << 22
