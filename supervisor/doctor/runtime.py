"""Stale pid files and sockets: what a supervisor killed with SIGKILL leaves behind."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil

from vai.common.errors import ConfigError
from vai.protocol.layout import MAX_SOCKET_PATH, Layout
from vai.supervisor.doctor.findings import Finding, fail, ok, warn
from vai.supervisor.sessions_file import load_sessions


def check_runtime_files(layout: Layout, supervisor_pid: int | None) -> Iterator[Finding]:
    """Stale pid file and sockets: what a supervisor killed with SIGKILL leaves behind
    (and the per-session hook sockets of an older release, run/hook-N.sock)."""
    stale: list[Path] = sorted(layout.run_dir.glob("hook-*.sock"))
    if any(len(str(p)) > MAX_SOCKET_PATH for p in layout.socket_paths()):
        yield fail(
            f"VAI_HOME {layout.home} is too long for Unix socket paths",
            f"use a VAI_HOME under {MAX_SOCKET_PATH - 40} characters",
        )
    if supervisor_pid is not None:
        yield ok(f"the supervisor is running (pid {supervisor_pid})")
    else:
        yield ok("the supervisor is not running")
    if not layout.run_dir.is_dir():
        return
    pid_file = layout.pid_file
    if supervisor_pid is None and pid_file.exists():
        text = pid_file.read_text(errors="replace").strip()
        alive = text.isdigit() and _alive(int(text))
        what = f"pid {text}" if text else "no pid"
        note = " (that pid is now another process)" if alive else " (that process is gone)"
        yield warn(
            f"stale pid file {pid_file}: {what}{note}",
            f"rm {pid_file}",
            lambda: pid_file.unlink(missing_ok=True),
        )
    sockets = [layout.control_socket, layout.bus_socket]
    if supervisor_pid is None:
        stale += [p for p in sockets if p.exists()]
        # A worker outlives its supervisor for a few seconds: only refused sockets are stale.
        hooks = sorted(layout.run_dir.glob("session-*/hook.sock"))
        stale += [p for p in hooks if not _listening(p)]
    else:
        try:
            sessions = set(load_sessions(layout.sessions_file))
        except ConfigError:
            sessions = set()
        for path in sorted(layout.run_dir.glob("session-*/hook.sock")):
            number = path.parent.name.removeprefix("session-")
            if number.isdigit() and int(number) not in sessions:
                stale.append(path)
    for path in stale:
        yield warn(
            f"stale socket {path} (nothing listens on it)",
            f"rm {path}",
            _remover(path),
        )


def _remover(path: Path) -> Callable[[], None]:
    return lambda: path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _listening(path: Path) -> bool:
    """Whether something accepts connections on a Unix socket (a refused one is stale)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            return False
        except OSError:
            return True  # not refused: someone may be there
    return True
