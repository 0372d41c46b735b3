"""Session changes in a running supervisor: the control API's add, remove and recover.

The rules (numbering, forgetting, purging, setting kept files aside) are
session_changes.py's, the same the CLI applies with the supervisor down; this module adds
the live part: the worker, Claude's pane, the switchboard's map, the gateway's routes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable

from vai.common.errors import BridgeError
from vai.protocol.layout import snowflake_at
from vai.supervisor.children import Children
from vai.supervisor.config import Config
from vai.supervisor.hub.moves import SessionMover
from vai.supervisor.inbox import Inbox
from vai.supervisor.interfaces import Changed
from vai.supervisor.session_changes import (
    added_text,
    claude_processes,
    end_claude,
    forget_files,
    number_for,
    prepare_number,
    purge_files,
    removed_text,
)
from vai.supervisor.sessions_file import save_sessions
from vai.supervisor.switchboard import Send, Switchboard

ADD_SESSION_TIMEOUT = 30.0


class LiveSessions:
    """Session changes in a running supervisor (interfaces.SessionChanges).

    One change at a time: two adds must not pick the same number, and a remove must not
    overtake the add of the same session.
    """

    def __init__(
        self,
        config: Config,
        *,
        inbox: Inbox,
        switchboard: Switchboard,
        children: Children,
        send_all: Callable[[Iterable[Send]], Awaitable[bool]],
        session_removed: Callable[[int], None],
        mover: SessionMover | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.layout = config.layout
        self.inbox = inbox
        self.switchboard = switchboard
        self.children = children
        self.send_all = send_all
        self.session_removed = session_removed
        self.mover = mover
        self.wall = wall
        self._lock = asyncio.Lock()

    async def add(self, channel_id: int) -> Changed:
        """The worker, its tmux session and the attachments directory exist on return."""
        async with self._lock:
            sessions = dict(self.switchboard.sessions())
            number = number_for(sessions, channel_id)
            aside = await asyncio.to_thread(prepare_number, self.layout, number)
            sessions[number] = channel_id
            save_sessions(self.layout.sessions_file, sessions, self.config.encryption_key)
            # Whatever an interrupted removal left under this number or this channel goes.
            self.inbox.forget_session(number, channel_id)
            self.inbox.start_cursor(channel_id, snowflake_at(self.wall()))
            await self.send_all(self.switchboard.add_session(number, channel_id))
            child = self.children.add(number)
            hello = self.children.hello_waiter(child)
            await self.children.start(child, "added")
        try:
            await asyncio.wait_for(hello, ADD_SESSION_TIMEOUT)
        except TimeoutError:
            raise BridgeError(
                f"session {number} was added but its worker did not start"
                f" within {ADD_SESSION_TIMEOUT:.0f}s; see `vai tail {number}`"
            ) from None
        return Changed(number, added_text(number, aside))

    async def remove(self, session: int, purge: bool) -> Changed:
        """Stops the worker and Claude, then forgets the session (and purges it)."""
        async with self._lock:
            sessions = dict(self.switchboard.sessions())
            channel = sessions.pop(session, None)
            if channel is None:
                raise BridgeError(f"no session {session}")
            save_sessions(self.layout.sessions_file, sessions, self.config.encryption_key)
            await self.send_all(self.switchboard.remove_session(session))
            claude = await asyncio.to_thread(claude_processes, self.config.tmux_socket, session)
            await self.children.end(session)
            if self.mover is not None:
                await self.mover.forget(session)  # on another host: that host ends it
            await asyncio.to_thread(end_claude, self.config, session, claude)
            self.session_removed(session)
            # Only now: the worker and Claude could still write their files until they end.
            await asyncio.to_thread(forget_files, self.layout, session)
            self.inbox.forget_session(session, channel)
            if purge:
                await asyncio.to_thread(purge_files, self.layout, session)
        return Changed(session, removed_text(session, purge))

    async def move(self, session: int, host: str) -> Changed:
        if self.mover is None:
            raise BridgeError("no hosts to move to: this bridge runs on one machine")
        async with self._lock:
            return await self.mover.move(session, host)

    async def recover(self, session: int) -> Changed:
        if self.mover is not None and (remote := await self.mover.recover(session)):
            return remote
        if not await self.children.recover(session):
            raise BridgeError(f"no session {session}")
        return Changed(session, f"Session {session} restarting")
