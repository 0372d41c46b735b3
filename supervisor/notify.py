"""systemd's notify protocol (sd_notify) without libsystemd: one datagram per state.

READY=1 says the supervisor is up and serving (bus, control API, children spawned),
whatever its sessions are doing: a session that cannot start is the operator's to fix
through `vai status`, not a reason for systemd to kill and restart the whole bridge.
Session health goes to STATUS= (`systemctl status vai` shows it), one line rebuilt on
every state change.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

# How much of a reason a STATUS= line carries per process.
REASON_LIMIT = 80


def sd_notify(state: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send `state` (e.g. "READY=1") to $NOTIFY_SOCKET; False when not under systemd.

    Never blocks: a listener that does not read (its queue full) loses this datagram
    rather than stalling the supervisor's loop."""
    address = (environ if environ is not None else os.environ).get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # abstract namespace
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        try:
            sock.connect(address)
            sock.sendall(state.encode())
        except OSError:
            return False
    return True


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Half of WatchdogSec (from $WATCHDOG_USEC) when systemd asked for pings to this pid."""
    env = environ if environ is not None else os.environ
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000


@dataclass(frozen=True)
class Health:
    """One process's state and why, as the STATUS= line shows it."""

    state: str
    detail: str = ""


def _reason(detail: str) -> str:
    flat = " ".join(detail.split())
    return flat if len(flat) <= REASON_LIMIT else flat[: REASON_LIMIT - 1] + "…"


def status_line(gateway: Health, sessions: Mapping[int, Health]) -> str:
    """ "4 of 5 sessions running; session 3 FATAL (gave up after 3 failed starts)"."""
    running = sum(1 for h in sessions.values() if h.state == "RUNNING")
    parts = [f"{running} of {len(sessions)} sessions running"]
    named = [("gateway", gateway), *((f"session {n}", h) for n, h in sorted(sessions.items()))]
    for name, health in named:
        if health.state != "RUNNING":
            why = f" ({_reason(health.detail)})" if health.detail else ""
            parts.append(f"{name} {health.state}{why}")
    return "; ".join(parts)


class StatusNotifier:
    """Sends STATUS= when the line changed (systemd keeps the last one)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = environ
        self.line = ""

    def update(self, line: str) -> bool:
        if line == self.line:
            return False
        self.line = line
        sd_notify(f"STATUS={line}", self.environ)
        return True
