"""A supervisor's own machine, before any socket: VAI_HOME's directories, the lock that
keeps one supervisor per VAI_HOME, the tmux server. Shared by `vai run` and the host agent.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable

from vai.common.errors import BridgeError
from vai.common.tmux import tmux_run
from vai.protocol.layout import MAX_SOCKET_PATH, Layout
from vai.supervisor.child_env import child_environment
from vai.supervisor.config import Config, resolve_claude
from vai.supervisor.private_files import prepare_dirs

log = logging.getLogger("supervisor")


def make_home(layout: Layout, traversable: bool = False) -> None:
    """VAI_HOME's directories (private_files.prepare_dirs); BridgeError if its socket
    paths would not fit."""
    prepare_dirs(layout, traversable=traversable)
    too_long = [p for p in layout.socket_paths() if len(str(p)) > MAX_SOCKET_PATH]
    if too_long:
        raise BridgeError(
            f"VAI_HOME {layout.home} is too long for Unix socket paths"
            f" ({len(str(too_long[0]))} > {MAX_SOCKET_PATH} bytes); choose a shorter one"
        )


def lock_home(layout: Layout) -> int:
    """The single-instance lock (held for the process's life), with our pid in it."""
    fd = os.open(layout.pid_file, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        other = os.pread(fd, 32, 0).decode().strip() or "?"
        os.close(fd)
        raise BridgeError(
            f"a supervisor is already running for {layout.home} (pid {other})"
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def start_tmux_server(config: Config) -> None:
    """One tmux server for all panes, started before any worker.

    Workers creating their sessions at the same moment would otherwise race to start
    the server (and lose). `exit-empty off` keeps it up while no session exists.
    """
    done = tmux_run(
        config.tmux_socket,
        "start-server", ";", "set-option", "-g", "exit-empty", "off",
        env=child_environment(env_file=config.layout.env_file),  # no secret reaches a pane
    )  # fmt: skip
    if done.returncode != 0:
        raise BridgeError(f"cannot start tmux (socket {config.tmux_socket}): {done.stderr.strip()}")


def claim_home(config: Config, apply_limits: Callable[[Config], Config]) -> tuple[int, Config]:
    """What the hub and a host both do first: make and lock the home (one supervisor per
    VAI_HOME), find Claude, and set up the memory limits. Returns the lock's fd and the
    config whose Claude command is resolved and starts inside the limits."""
    make_home(config.layout, traversable=config.file.claude.isolated())
    lock_fd = lock_home(config.layout)
    config, note = resolve_claude(config)
    if note:
        log.warning("%s", note)
    return lock_fd, apply_limits(config)
