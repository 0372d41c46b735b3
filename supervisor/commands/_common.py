"""What the command modules share: the lazily loaded config, the supervisor."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from vai.common.errors import BridgeError
from vai.protocol.ids import id_problem, parse_id
from vai.protocol.layout import Layout
from vai.protocol.links import ControlReply, ControlRequest
from vai.protocol.messages import ErrorReply, OkReply
from vai.supervisor.config import Config, load_config
from vai.supervisor.control_client import SupervisorUnreachable, request


@dataclass
class Context:
    """Per invocation: the environment, and the config loaded on first use."""

    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    _config: Config | None = None

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.environ)
        return self._config

    @property
    def layout(self) -> Layout:
        return self.config.layout

    def ask(self, message: ControlRequest, timeout: float = 5.0) -> ControlReply:
        """One control request; SupervisorUnreachable at once when no supervisor runs."""
        layout = self.layout
        if running_supervisor_pid(layout) is None:
            raise SupervisorUnreachable(
                f"the supervisor is not running for {layout.home} (start it: `vai start`)"
            )
        return request(layout, message, timeout)


def expect_ok(reply: ControlReply) -> OkReply:
    if isinstance(reply, ErrorReply):
        raise BridgeError(reply.text)
    if not isinstance(reply, OkReply):
        raise BridgeError(f"unexpected answer {type(reply).__name__}")
    return reply


_LOCK_LINE = re.compile(r"^\d+:\s+FLOCK\s+\S+\s+WRITE\s+(\d+)\s+([0-9a-f]+:[0-9a-f]+:\d+)\s")


def running_supervisor_pid(layout: Layout, locks: Path = Path("/proc/locks")) -> int | None:
    """The pid of the supervisor holding this VAI_HOME's pid-file lock, or None.

    Read from /proc/locks, so asking never takes the lock (a `vai status` racing a
    starting supervisor must not make it think another one runs). Without /proc/locks
    the pid in the file is checked for life instead.
    """
    try:
        st = layout.pid_file.stat()
    except OSError:
        return None
    file_id = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    try:
        lines = locks.read_text().splitlines()
    except OSError:
        lines = None
    if lines is not None:
        for line in lines:
            match = _LOCK_LINE.match(line)
            if match and match.group(2) == file_id:
                return int(match.group(1))
        return None
    try:
        pid = int(layout.pid_file.read_text().strip() or "0")
        if pid > 0:
            os.kill(pid, 0)
            return pid
    except (OSError, ValueError):
        pass
    return None


def positive(text: str) -> int:
    """argparse type: a session number (bad input is a usage error, exit 2)."""
    return _id_argument(text, "session number")


def channel_id(text: str) -> int:
    """argparse type: a Discord channel id."""
    return _id_argument(text, "channel id")


def user_id(text: str) -> int:
    """argparse type: a Discord user id."""
    return _id_argument(text, "user id")


def _id_argument(text: str, what: str) -> int:
    import argparse

    number = parse_id(text)
    if number is None:
        raise argparse.ArgumentTypeError(id_problem(text, what))
    return number
