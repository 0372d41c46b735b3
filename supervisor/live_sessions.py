"""Session changes in a running supervisor: the control API's add, remove, recover,
restart, and the operator's stop and start of one session.

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
from vai.supervisor.operator_stops import mark_stopped
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
            await asyncio.to_thread(mark_stopped, self.layout, session, False)
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
        self._not_held(session)
        if not await self.children.recover(session):
            raise BridgeError(f"no session {session}")
        return Changed(session, f"Session {session} restarting")

    async def restart(self, session: int | None) -> Changed:
        """A session's worker and Claude (its conversation resumes); None: every session
        (but those the operator stopped) and the gateway, one after the other."""
        if session is not None:
            self._not_held(session)
            await self._restart_session(session)
            return Changed(
                session, f"Session {session} restarted (Claude resumes its conversation)"
            )
        async with self._lock:
            numbers = sorted(self.switchboard.sessions())
        held = sorted(set(numbers) & self.children.held)
        failed: list[str] = []
        for number in numbers:
            if number not in held:
                try:
                    await self._restart_session(number)
                except BridgeError as exc:  # a session on a host that is down
                    failed.append(str(exc))
        gateway = self.children.get(None)
        if gateway is not None:
            await self.children.restart(gateway, False, "restart")
        text = f"restarted {len(numbers) - len(held)} session(s) and the gateway"
        if held:
            listed = ", ".join(str(n) for n in held)
            text += f"; left stopped by the operator: {listed} (`vai start-session N`)"
        return Changed(0, "; ".join([text, *failed]))

    async def _restart_session(self, session: int) -> None:
        if self.mover is not None and await self.mover.recover(session):
            return  # on another host: its worker restarts there
        async with self._lock:
            child = self.children.get(session)
            if child is None:
                raise BridgeError(f"no session {session}")
            claude = await asyncio.to_thread(claude_processes, self.config.tmux_socket, session)
            await self.children.restart(child, True, "restart")  # ends Claude's pane first
            # A worker that was not running cannot end the pane: it ends here, before the
            # new worker starts Claude again (resuming its conversation).
            await asyncio.to_thread(end_claude, self.config, session, claude)

    async def stop(self, session: int) -> Changed:
        """Stopped until `start`, across supervisor restarts; its messages wait."""
        self._here(session)
        async with self._lock:
            if session not in self.switchboard.sessions():
                raise BridgeError(f"no session {session}")
            if session in self.children.held:
                return Changed(session, f"Session {session} is already stopped")
            await asyncio.to_thread(mark_stopped, self.layout, session, True)
            claude = await asyncio.to_thread(claude_processes, self.config.tmux_socket, session)
            await self.children.hold(session)
            await asyncio.to_thread(end_claude, self.config, session, claude)
        return Changed(
            session,
            f"Session {session} stopped (by operator): its messages wait until"
            f" `vai start-session {session}`",
        )

    async def start(self, session: int) -> Changed:
        self._here(session)
        async with self._lock:
            if session not in self.switchboard.sessions():
                raise BridgeError(f"no session {session}")
            if session not in self.children.held:
                return Changed(session, f"Session {session} is not stopped (see `vai status`)")
            await asyncio.to_thread(mark_stopped, self.layout, session, False)
            await self.children.release(session)
        return Changed(session, f"Session {session} starting")

    def _here(self, session: int) -> None:
        """The operator's stop and start are for sessions on this machine (for now)."""
        if self.mover is not None and self.mover.placement.is_remote(session):
            host = self.mover.placement.host_of(session)
            raise BridgeError(
                f"session {session} runs on host {host}: stopping and starting it from the"
                f" hub is not supported yet (`vai move {session} --to HOST` moves it)"
            )

    def _not_held(self, session: int) -> None:
        if session in self.children.held:
            raise BridgeError(
                f"session {session} is stopped (by operator): start it with"
                f" `vai start-session {session}`"
            )
