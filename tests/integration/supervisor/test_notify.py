"""systemd's notify protocol without systemd: a local NOTIFY_SOCKET for a real `vai run`.

READY=1 comes once, after the gateway and every session are RUNNING; WATCHDOG=1 comes
at half of WATCHDOG_USEC; STOPPING=1 comes when the supervisor stops.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

from tests.support.stack import running_stack
from tests.support.tmux import TmuxServer
from vai.supervisor.notify import sd_notify, watchdog_interval


class NotifySocket:
    """What systemd listens on: a datagram socket; we keep every state it is sent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.received: list[str] = []

    def wait(self, state: str, timeout: float, since: int | None = None) -> int:
        """Index in `received` of the next datagram carrying `state` (a line of it)."""
        deadline = time.monotonic() + timeout
        start = len(self.received) if since is None else since
        while True:
            for index in range(start, len(self.received)):
                if state in self.received[index].splitlines():
                    return index
            start = len(self.received)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {state} within {timeout}s; got {self.received}")
            self.sock.settimeout(remaining)
            try:
                self.received.append(self.sock.recv(4096).decode())
            except TimeoutError:
                continue

    def close(self) -> None:
        self.sock.close()


def test_sd_notify_and_watchdog_interval(short_tmp: Path) -> None:
    listener = NotifySocket(short_tmp / "notify")
    try:
        assert sd_notify("STATUS=hi", {"NOTIFY_SOCKET": str(listener.path)})
        assert listener.wait("STATUS=hi", 5) == 0
    finally:
        listener.close()
    assert not sd_notify("READY=1", {})
    assert not sd_notify("READY=1", {"NOTIFY_SOCKET": str(short_tmp / "nobody")})
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_interval({}) is None


def test_ready_after_all_sessions_then_watchdog_then_stopping(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    path = short_tmp / "notify.sock"
    listener = NotifySocket(path)
    try:
        env = {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "400000"}
        with running_stack(short_tmp, tmux_server, channels=3, extra_env=env) as (stack, _):
            stack.write_config("[monitoring]\ninterval = 0.2\n")
            stack.start()
            ready = listener.wait("READY=1", 60)
            # Everything was up when READY=1 was sent (states never go back on their own).
            status = stack.vai("status")
            assert status.returncode == 0, status.stdout
            assert status.stdout.count("RUNNING") == 4
            assert all("READY=1" not in m for m in listener.received[:ready])
            first = listener.wait("WATCHDOG=1", 10)
            listener.wait("WATCHDOG=1", 10)
            assert first > ready or "WATCHDOG=1" in listener.received[first]
            listener.wait("STATUS=3/3 sessions running", 10, since=0)  # the monitor's line
            assert stack.vai("stop").returncode == 0
            listener.wait("STOPPING=1", 30)
            assert stack.process is not None
            assert stack.process.wait(30) == 0
        states = [line for m in listener.received for line in m.splitlines()]
        assert states.count("READY=1") == 1
    finally:
        listener.close()
