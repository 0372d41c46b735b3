"""One long-lived tmux control-mode client (`tmux -C`), spawned through pexpect.

Every tmux command goes down the same pipe and its `%begin ... %end` block comes back in
order, so driving the pane costs no process per keystroke. `%output` notifications for
the pane set `changed`, which lets readers wait for the screen to change instead of
polling it blindly.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import re
import subprocess
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pexpect

log = logging.getLogger(__name__)

_SAFE = re.compile(r"^[A-Za-z0-9_./:=%@,+\-]+$")


class TmuxError(RuntimeError):
    """A tmux command answered %error, or the control client is gone."""


def quote(arg: str) -> str:
    """Quote one argument for tmux's command parser (single quotes are literal)."""
    if "\n" in arg or "\r" in arg:
        raise ValueError("tmux command arguments cannot contain line breaks")
    if arg and _SAFE.match(arg):
        return arg
    return "'" + arg.replace("'", "'\"'\"'") + "'"


PANE_UMASK_ENV = "VAI_PANE_UMASK"


def pane_umask(environ: dict[str, str] | None = None) -> int:
    """The umask panes get: the operator's, which `vai run` keeps in PANE_UMASK_ENV while it
    runs under 077 itself (supervisor.private_files); -1 (inherit) when not set."""
    text = (os.environ if environ is None else environ).get(PANE_UMASK_ENV, "")
    try:
        value = int(text, 8)
    except ValueError:
        return -1
    return value if 0 <= value <= 0o777 else -1


def tmux_run(
    socket_name: str, *args: str, timeout: float = 10.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """A one-off tmux command (used before a control client exists).

    A command that starts the server gives it `env` and the operator's umask, which every
    pane inherits.
    """
    return subprocess.run(
        ["tmux", "-L", socket_name, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
        umask=pane_umask(env),
    )


@contextlib.contextmanager
def tmux_lock(run_dir: Path) -> Iterator[None]:
    """Serialize what a control client attaching must not see (held for milliseconds).

    tmux 3.3a (3.5a too) crashes if it sends a notification to a control client that is
    still attaching: the server marks it a control client when the first identify message
    arrives, but gives it its output state only at the last one, a few event-loop turns
    later; `%sessions-changed` (new-session, kill-session), `%client-detached` (an attached
    client leaving) or `%session-window-changed` in between dereference NULL
    (control_write, control.c:414). So attaching, creating and killing sessions and
    detaching all happen under this one lock.
    """
    if not run_dir.is_dir():  # no supervisor or worker has run: nobody to wait for
        yield
        return
    fd = os.open(run_dir / "tmux.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def kill_session(socket_name: str, run_dir: Path, name: str) -> None:
    """End a tmux session from outside its worker, under tmux_lock. Blocking: async
    callers run it in a thread, since the lock may wait for a worker's detach."""
    with tmux_lock(run_dir):
        tmux_run(socket_name, "kill-session", "-t", f"={name}")


class TmuxControl:
    def __init__(self, socket_name: str, session_name: str) -> None:
        self.socket_name = socket_name
        self.session_name = session_name
        self.changed = asyncio.Event()
        self.closed = asyncio.Event()
        self._child: pexpect.spawn[bytes] | None = None
        self._buffer = b""
        self._waiting: deque[asyncio.Future[list[str]]] = deque()
        self._block: list[str] | None = None
        self._lock = asyncio.Lock()
        self.output_seq = 0  # counts %output notifications for the pane
        self._output_waiters: list[asyncio.Future[None]] = []

    async def start(self) -> None:
        self._child = pexpect.spawn(
            "tmux",
            ["-L", self.socket_name, "-C", "attach-session", "-t", f"={self.session_name}"],
            echo=False,
            env={**os.environ, "TERM": "xterm-256color"},
        )
        loop = asyncio.get_running_loop()
        loop.add_reader(self._child.child_fd, self._on_readable)
        # The attach itself answers with one empty block; consume it like a command.
        first: asyncio.Future[list[str]] = loop.create_future()
        self._waiting.append(first)
        await asyncio.wait_for(first, timeout=10)

    async def command(self, *args: str, timeout: float = 10.0) -> list[str]:
        """Run one tmux command and return its output lines."""
        if self._child is None or self.closed.is_set():
            raise TmuxError("tmux control client is not running")
        line = " ".join(quote(a) for a in args)
        async with self._lock:
            future: asyncio.Future[list[str]] = asyncio.get_running_loop().create_future()
            self._waiting.append(future)
            os.write(self._child.child_fd, line.encode() + b"\n")
        return await asyncio.wait_for(future, timeout=timeout)

    async def wait_output(self, seq: int, timeout: float) -> bool:
        """Wait until the pane printed something after `output_seq` was `seq`."""
        if self.output_seq > seq:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._output_waiters.append(future)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return self.output_seq > seq
        finally:
            with contextlib.suppress(ValueError):
                self._output_waiters.remove(future)

    async def close(self) -> None:
        """Detach and wait until the server has dropped this client (callers hold
        tmux_lock: the `%client-detached` it sends others must not meet an attaching one)."""
        child = self._child
        if child is None:
            return
        if not self.closed.is_set():
            with contextlib.suppress(Exception):
                os.write(child.child_fd, b"detach-client\n")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closed.wait(), 2.0)
        self._child = None
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(child.child_fd)
        child.close(force=True)
        # One round trip: the server has now handled the client's exit and its notifications.
        with contextlib.suppress(Exception):
            tmux_run(self.socket_name, "list-clients", timeout=5)
        self._fail_waiting("tmux control client closed")
        self.closed.set()

    # -- reading -----------------------------------------------------------------------------

    def _on_readable(self) -> None:
        assert self._child is not None
        try:
            data = os.read(self._child.child_fd, 65536)
        except OSError:
            data = b""
        if not data:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._child.child_fd)
            self._fail_waiting("tmux control client exited")
            self.closed.set()
            return
        self._buffer += data
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            self._on_line(raw.rstrip(b"\r").decode("utf-8", "replace"))

    def _on_line(self, line: str) -> None:
        if self._block is not None:
            if line.startswith(("%end ", "%error ")):
                block, self._block = self._block, None
                if self._waiting:
                    future = self._waiting.popleft()
                    if not future.done():
                        if line.startswith("%error"):
                            future.set_exception(TmuxError("\n".join(block) or line))
                        else:
                            future.set_result(block)
            else:
                self._block.append(line)
            return
        if line.startswith("%begin "):
            self._block = []
        elif line.startswith("%output "):
            self.output_seq += 1
            self.changed.set()
            waiters, self._output_waiters = self._output_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
        elif line.startswith("%exit"):
            self._fail_waiting("tmux control client exited")
            self.closed.set()

    def _fail_waiting(self, reason: str) -> None:
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(TmuxError(reason))
