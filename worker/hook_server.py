"""Receives hook events (and `dp` posts) from the session's pane over its Unix socket.

Each connection carries one header line and one event. The gate (worker/pane_gate.py)
lets in only this session's Claude: the right key, the session's Claude user, a process
of the session's pane. A refused connection is logged (uid, pid, why) and dropped; it
never reaches the turn logic. The handler's answer (bytes, possibly empty) is sent back
before the connection closes, so events that wait for a decision can get one.

A status-line reading (header kind `status`: the CLI's statusLine JSON, which the hook
client forwards) passes the same gate, is small, and goes to its own handler with the
pane's pid (so a reading is known to come from the Claude process running now); it is
never spooled: a reading is only worth its freshness.

Events spooled while no worker was listening are replayed first, in order. The spool
stays in place (Claude's user may not create files in the session's folder): it is
emptied under the same flock the hook client appends under, its lines moved to a
private `.replaying` file first, so a worker killed while replaying loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec

from vai.protocol.hooks import HookPayload, StatusLine, decode_hook, decode_status_line
from vai.worker.pane_gate import HEADER_MAX, Gate, Header, parse_header, peer_of

# The handler gets the event and whether Claude is waiting for its answer right now
# (False for events replayed from the spool: their hook already returned).
Handler = Callable[[HookPayload, bool], Awaitable[bytes]]
PostHandler = Callable[[bytes], Awaitable[bytes]]
StatusHandler = Callable[[StatusLine, int], None]  # the reading, the pane's pid
log = logging.getLogger(__name__)

HOOK_MAX = 64 * 1024 * 1024  # a hook event (tool output included), at most
HEADER_TIMEOUT = 30.0
STATUS_MAX = 256 * 1024  # a status-line reading (a few kB in practice)
DRAIN_MAX = 4 * 1024 * 1024  # read from a refused peer before closing, so its client sees EOF


class HookServer:
    def __init__(
        self,
        socket_path: Path,
        spool_path: Path,
        handler: Handler,
        *,
        gate: Callable[[], Gate],
        pane_pid: Callable[[], Awaitable[int | None]],
        post: PostHandler | None = None,
        post_max: int = HOOK_MAX,
        group: int | None = None,
        status: StatusHandler | None = None,
    ) -> None:
        self._socket_path = socket_path
        self._spool_path = spool_path
        self._handler = handler
        self._gate = gate
        self._pane_pid = pane_pid
        self._post = post
        self._post_max = post_max
        self._group = group
        self._status = status
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._socket_path.unlink(missing_ok=True)
        self._server = await asyncio.start_unix_server(self._serve, path=str(self._socket_path))
        if self._group is not None:
            os.chown(self._socket_path, -1, self._group)
        os.chmod(self._socket_path, 0o600 if self._group is None else 0o660)

    async def replay_spool(self) -> int:
        """Hand spooled events to the handler, in order. Returns the count."""
        taken = self._spool_path.with_suffix(".replaying")
        self._take_spool(taken)
        try:
            data = taken.read_bytes()
        except FileNotFoundError:
            return 0
        gate = self._gate()
        count = 0
        for line in data.splitlines():
            if not line.strip():
                continue
            payload, why = gate.refuse_spooled(line)
            if why:
                log.warning("refused a spooled hook event (%d bytes): %s", len(line), why)
                continue
            await self._dispatch(payload, live=False)
            count += 1
        taken.unlink(missing_ok=True)
        return count

    def spooled(self) -> bool:
        """Whether events wait in the spool (or in a replay a killed worker left)."""
        with contextlib.suppress(OSError):
            if self._spool_path.stat().st_size > 0:
                return True
        return self._spool_path.with_suffix(".replaying").exists()

    def _take_spool(self, taken: Path) -> None:
        """Move the spool's lines to `taken` (appended, synced), then empty the spool."""
        try:
            fd = os.open(self._spool_path, os.O_RDWR)
        except FileNotFoundError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = b""
            while chunk := os.read(fd, 1 << 20):
                data += chunk
            if not data:
                return
            out = os.open(taken, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(out, data if data.endswith(b"\n") else data + b"\n")
                os.fsync(out)
            finally:
                os.close(out)
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        self._socket_path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            header = await self._admit(reader, writer)
            if header is None:
                return
            limits = {"post": self._post_max, "status": STATUS_MAX}
            limit = limits.get(header.kind, HOOK_MAX)
            body = await reader.read(limit + 1)
            while len(body) <= limit and (more := await reader.read(limit + 1 - len(body))):
                body += more
            if len(body) > limit:
                log.warning("dropped a %s from the pane: over %d bytes", header.kind, limit)
                answer = b"error too big\n" if header.kind == "post" else b""
            elif header.kind == "post":
                answer = await self._post(body) if self._post else b"error not here\n"
            elif header.kind == "status":
                answer = await self._on_status(body)
            else:
                answer = await self._dispatch(body.strip(), live=True)
            if answer:
                writer.write(answer)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.warning("hook connection failed: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _admit(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Header | None:
        """The header, if the gate lets the peer in; None (logged, drained) if not."""
        sock: socket.socket = writer.get_extra_info("socket")
        peer = peer_of(sock)
        try:
            line = await asyncio.wait_for(reader.readline(), HEADER_TIMEOUT)
        except (TimeoutError, ValueError):  # ValueError: a line over the stream's limit
            line = b""
        header = parse_header(line[:HEADER_MAX] if len(line) <= HEADER_MAX else b"")
        why = self._gate().refuse_live(peer, header, await self._pane_pid())
        if not why:
            assert not isinstance(header, str)
            return header
        kind = header.kind if not isinstance(header, str) else "connection"
        log.warning("refused a %s on the hook socket from %s: %s", kind, peer, why)
        with contextlib.suppress(Exception):
            drained = 0
            while drained < DRAIN_MAX:
                chunk = await asyncio.wait_for(reader.read(65536), 5.0)
                if not chunk:
                    break
                drained += len(chunk)
        return None

    async def _on_status(self, body: bytes) -> bytes:
        reading = decode_status_line(body.strip())
        pane_pid = await self._pane_pid()
        if reading is None:
            log.warning("dropped a malformed status-line reading (%d bytes)", len(body))
        elif self._status is not None and pane_pid is not None:
            self._status(reading, pane_pid)
        return b""

    async def _dispatch(self, payload: bytes, live: bool) -> bytes:
        try:
            event = decode_hook(payload)
        except msgspec.DecodeError as exc:
            log.warning("dropped a malformed hook payload (%d bytes): %s", len(payload), exc)
            return b""
        return await self._handler(event, live)
