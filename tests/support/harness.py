"""Helpers shared by process-level tests: waiting for events, stand-in Claude, ports."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

import psutil
import zmq

from vai.common.bus_auth import ClientKeys, ServerKeys, secure_server
from vai.protocol.codec import decode, encode
from vai.protocol.messages import WireMessage

REPO = Path(__file__).resolve().parents[2]
STANDIN = REPO / "worker" / "standin_claude.py"
T = TypeVar("T")


def wait_until(
    check: Callable[[], T | None], timeout: float = 5.0, what: str = "", every: float = 0.02
) -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what or check}")
        time.sleep(every)


def standin_command() -> list[str]:
    return [sys.executable, str(STANDIN)]


def standin_env(home: Path, **extra: str) -> dict[str, str]:
    """Environment for a stand-in Claude: its own HOME, instant start-up."""
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HOME": str(home), "STANDIN_CLAUDE_STARTUP_MS": "0"}
    env.update(extra)
    return env


class Router:
    """A test-side ROUTER standing in for the supervisor's bus: a CURVE server like it
    (without its gate: any client key gets in), handing out keys with `client_keys`."""

    def __init__(self, endpoint: str) -> None:
        self.context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.ROUTER_HANDOVER, 1)
        self.keys = ServerKeys.new()
        secure_server(self.socket, self.keys, zap=False)
        self.socket.bind(endpoint)
        self.received: list[tuple[bytes, WireMessage]] = []

    def client_keys(self, identity: bytes) -> ClientKeys:
        return self.keys.client_keys(identity.decode())

    def send(self, identity: bytes, message: WireMessage) -> None:
        self.socket.send_multipart([identity, encode(message)])

    def expect(
        self, accept: Callable[[WireMessage], bool], timeout: float, what: str
    ) -> tuple[bytes, WireMessage]:
        """The next message `accept` likes (others are kept in `received`)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            if self.socket.poll(int(remaining * 1000)):
                identity, frame = self.socket.recv_multipart()
                message = decode(frame)
                self.received.append((identity, message))
                if accept(message):
                    return identity, message

    def close(self) -> None:
        self.socket.close(linger=0)
        self.context.term()


class FileServer(ThreadingHTTPServer):
    """Serves `files` (path -> bytes) over HTTP, as Discord's CDN serves attachments."""

    files: dict[str, bytes]
    hits: list[str]


class _FileHandler(BaseHTTPRequestHandler):
    server: FileServer

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def file_server() -> Iterator[tuple[FileServer, str]]:
    """A local file server on a free port, and its base URL."""
    server = FileServer(("127.0.0.1", 0), _FileHandler)
    server.files, server.hits = {}, []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def end_process_tree(process: subprocess.Popen[bytes] | None) -> None:
    """Teardown: SIGKILL a process started in its own group, the group, and every process
    it started (found before the kill, by pid; never by name)."""
    if process is None:
        return
    try:
        leftovers = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        leftovers = []
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    for leftover in leftovers:
        with contextlib.suppress(psutil.Error):
            leftover.kill()
