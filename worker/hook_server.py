"""Receives hook events from the hook client over the session's Unix socket.

Each connection carries one event. The handler's answer (bytes, possibly empty) is sent
back before the connection closes, so events that wait for a decision can get one.
Events spooled while no worker was listening are replayed first, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec

from vai.protocol.hooks import HookPayload, decode_hook

# The handler gets the event and whether Claude is waiting for its answer right now
# (False for events replayed from the spool: their hook already returned).
Handler = Callable[[HookPayload, bool], Awaitable[bytes]]
log = logging.getLogger(__name__)


class HookServer:
    def __init__(self, socket_path: Path, spool_path: Path, handler: Handler) -> None:
        self._socket_path = socket_path
        self._spool_path = spool_path
        self._handler = handler
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._socket_path.unlink(missing_ok=True)
        self._server = await asyncio.start_unix_server(self._serve, path=str(self._socket_path))
        os.chmod(self._socket_path, 0o600)

    async def replay_spool(self) -> int:
        """Hand spooled events to the handler, in order. Returns the count.

        The spool is renamed before it is read, so a hook client appending at that moment
        starts a new spool (read on the next pass) instead of writing into one being dropped.
        """
        taken = self._spool_path.with_suffix(".replaying")
        try:
            if not taken.exists():
                self._spool_path.rename(taken)
            data = taken.read_bytes()
        except FileNotFoundError:
            return 0
        count = 0
        for line in data.splitlines():
            if line.strip():
                await self._dispatch(line, live=False)
                count += 1
        taken.unlink(missing_ok=True)
        return count

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        self._socket_path.unlink(missing_ok=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            payload = await reader.read()
            answer = await self._dispatch(payload, live=True)
            if answer:
                writer.write(answer)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            log.warning("hook connection failed: %s", exc)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _dispatch(self, payload: bytes, live: bool) -> bytes:
        try:
            event = decode_hook(payload)
        except msgspec.DecodeError as exc:
            log.warning("dropped a malformed hook payload (%d bytes): %s", len(payload), exc)
            return b""
        return await self._handler(event, live)
