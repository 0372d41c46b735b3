"""systemd's notify protocol without systemd: a local NOTIFY_SOCKET for a real `vai run`.

READY=1 comes once, when the supervisor serves, whatever its sessions do (a FATAL one
included: systemd must not kill the whole bridge for one session); STATUS= says how the
sessions are, on every change; WATCHDOG=1 comes at half of WATCHDOG_USEC; STOPPING=1
comes when the supervisor stops.
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

from tests.support.harness import standin_command
from tests.support.stack import running_stack
from tests.support.tmux import TmuxServer
from vai.supervisor.notify import Health, sd_notify, status_line, watchdog_interval

FAILS_FOR_SESSION_3 = [
    "sh", "-c",
    'if [ "$VAI_SESSION" = 3 ]; then echo "no claude here" >&2; exit 7; fi; exec "$@"',
    "sh", *standin_command(),
]  # fmt: skip


class NotifySocket:
    """What systemd listens on: a datagram socket, read all the time (as systemd does) by
    a thread; we keep every state it is sent."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.1)
        self.received: list[str] = []
        self.arrived = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closed:
            try:
                data = self.sock.recv(4096).decode()
            except TimeoutError:
                continue
            except OSError:
                return
            with self.arrived:
                self.received.append(data)
                self.arrived.notify_all()

    def wait(self, state: str, timeout: float, since: int = 0, prefix: bool = False) -> int:
        """Index in `received` of the first datagram from index `since` on carrying `state`
        (a line of it, or the start of one with `prefix`). From the start by default: the
        reader thread may have taken a datagram before the test asks for it."""
        deadline = time.monotonic() + timeout
        with self.arrived:
            start = since
            while True:
                for index in range(start, len(self.received)):
                    lines = self.received[index].splitlines()
                    if any(line == state or (prefix and line.startswith(state)) for line in lines):
                        return index
                start = len(self.received)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no {state} within {timeout}s; got {self.received}")
                self.arrived.wait(remaining)

    def close(self) -> None:
        self._closed = True
        self._reader.join(timeout=5)
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


def test_status_line_names_what_is_not_running() -> None:
    running = Health("RUNNING")
    sessions = {n: running for n in (1, 2, 4, 5)}
    sessions[3] = Health("FATAL", "exit status 7; gave up after 3 failed starts")
    assert status_line(running, sessions) == (
        "4 of 5 sessions running; session 3 FATAL (exit status 7; gave up after 3 failed starts)"
    )
    stopped = {1: running, 2: Health("STOPPED", "by operator")}
    assert status_line(Health("BACKOFF"), stopped) == (
        "1 of 2 sessions running; gateway BACKOFF; session 2 STOPPED (by operator)"
    )
    assert status_line(running, {}) == "0 of 0 sessions running"
    long = status_line(running, {1: Health("FATAL", "x" * 500)})
    assert len(long) < 140 and long.endswith("…)")


def test_ready_with_a_fatal_session_then_status_watchdog_stopping(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    path = short_tmp / "notify.sock"
    listener = NotifySocket(path)
    try:
        env = {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "400000"}
        with running_stack(
            short_tmp, tmux_server, channels=3, extra_env=env, claude_command=FAILS_FOR_SESSION_3
        ) as (stack, _):
            stack.write_config(
                "[supervisor]\nbackoff_base = 0.05\nstart_retries = 2\n"
                "[claude]\nready_timeout = 3\n"
            )
            stack.start()
            # READY as soon as it serves: the sessions are spawned, not yet RUNNING.
            ready = listener.wait("READY=1", 60)
            assert stack.vai("status", "--timeout", "30").returncode in (0, 3)  # it answers
            # Session 3 never runs; the others do; READY was not held back for it.
            fatal = listener.wait(
                "STATUS=2 of 3 sessions running; session 3 FATAL (", 60, since=0, prefix=True
            )
            assert "gave up after 2 failed starts)" in listener.received[fatal]
            assert fatal > ready
            status = stack.vai("status")
            assert status.returncode == 3, status.stdout
            assert status.stdout.count("RUNNING") == 3  # the gateway and sessions 1, 2
            first = listener.wait("WATCHDOG=1", 10)
            listener.wait("WATCHDOG=1", 10, since=first + 1)
            # A recovered session is in the line too, as each state changes.
            assert stack.vai("remove-session", "3").returncode == 0
            listener.wait("STATUS=2 of 2 sessions running", 30, since=fatal)
            assert stack.vai("stop").returncode == 0
            listener.wait("STOPPING=1", 30, since=0)
            assert stack.process is not None
            assert stack.process.wait(30) == 0
        states = [line for m in listener.received for line in m.splitlines()]
        assert states.count("READY=1") == 1
    finally:
        listener.close()
