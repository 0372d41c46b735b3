"""Session changes in a running supervisor: the control API's add, remove, recover,
restart, and the operator's stop and start of one session.

The rules (numbering, forgetting, purging, setting kept files aside) are
session_changes.py's, the same the CLI applies with the supervisor down; this module adds
the live part: the worker, Claude's pane, the switchboard's map, the gateway's routes.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path

import msgspec

from vai.common.errors import BridgeError
from vai.protocol.layout import snowflake_at
from vai.protocol.session_settings import SessionSettings
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
    settle_settings,
)
from vai.supervisor.sessions_file import next_session_number, save_entries
from vai.supervisor.switchboard import Send, Switchboard
from vai.supervisor.thread_sessions import (
    end_worktree,
    parent_of,
    refusal,
    thread_settings,
    threads_of,
)

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

    def settings(self) -> Mapping[int, SessionSettings]:
        return self.switchboard.settings()

    async def add(
        self, channel_id: int, settings: SessionSettings | None = None, *, confined: bool = False
    ) -> Changed:
        """The worker, its tmux session and the attachments directory exist on return.
        `confined` (asked from Discord): the work dir must be in `[claude] work_dir_roots`,
        and the channel must not be a session already."""
        async with self._lock:
            sessions = self.switchboard.sessions()
            if confined and channel_id in sessions.values():
                taken = next(n for n, c in sessions.items() if c == channel_id)
                raise BridgeError(f"this channel is already session {taken}")
            settled = await asyncio.to_thread(
                settle_settings, self.config, channel_id, settings, confined=confined
            )
            number, aside, hello = await self._add_locked(settled, snowflake_at(self.wall()))
        await self._wait_hello(number, hello)
        return Changed(number, added_text(number, aside))

    async def _add_locked(
        self, settled: SessionSettings, after: int
    ) -> tuple[int, Path | None, asyncio.Future[None]]:
        """With the lock held: number, record, map, worker started; catching up in the
        channel begins after message id `after`."""
        channel_id = settled.channel_id
        number = number_for(self.switchboard.sessions(), channel_id)
        aside = await asyncio.to_thread(prepare_number, self.layout, number)
        entries = {**self.switchboard.settings(), number: settled}
        save_entries(self.layout.sessions_file, entries, self.config.encryption_key)
        # Whatever an interrupted removal left under this number or this channel goes.
        self.inbox.forget_session(number, channel_id)
        self.inbox.start_cursor(channel_id, after)
        await self.send_all(self.switchboard.add_session(number, channel_id, settled))
        child = self.children.add(number)
        hello = self.children.hello_waiter(child)
        await self.children.start(child, "added")
        return number, aside, hello

    async def _wait_hello(self, number: int, hello: asyncio.Future[None]) -> None:
        try:
            await asyncio.wait_for(hello, ADD_SESSION_TIMEOUT)
        except TimeoutError:
            raise BridgeError(
                f"session {number} was added but its worker did not start"
                f" within {ADD_SESSION_TIMEOUT:.0f}s; see `vai tail {number}`"
            ) from None

    # -- thread sessions (supervisor/thread_sessions.py has the rules) ---------------------------

    async def add_thread(
        self, thread_id: int, parent_channel_id: int, name: str, after: int
    ) -> Changed:
        """A session for a Discord thread, in a git worktree of the parent's work dir when
        it is a repository; an existing one is no error."""
        async with self._lock:
            entries = self.switchboard.settings()
            known = next((n for n, s in entries.items() if s.channel_id == thread_id), None)
            if known is not None:
                return Changed(known, f"Session {known} is this thread's")
            why = refusal(self.config, entries, parent_channel_id)
            if why:
                raise BridgeError(why)
            found = parent_of(entries, parent_channel_id)
            assert found is not None
            if self.mover is not None and self.mover.placement.is_remote(found[0]):
                # Its worktree would be made here, its session placed there: not yet.
                raise BridgeError("threads of a session on another host do not get sessions yet")
            settled = await asyncio.to_thread(
                thread_settings, self.config, found[1], thread_id, name
            )
            number, _, hello = await self._add_locked(settled, after)
        await self._wait_hello(number, hello)
        where = (
            f"git worktree {settled.worktree} (branch vai/{Path(settled.worktree).name})"
            if settled.worktree
            else settled.work_dir
        )
        return Changed(number, f"Session {number} works on this thread in {where}")

    async def end_thread(self, thread_id: int) -> Changed:
        """The thread was archived or deleted: its session goes (log kept), its worktree
        too when configured and clean. The text is "" when there is nothing to tell."""
        entries = self.switchboard.settings()
        number = next((n for n, s in entries.items() if s.channel_id == thread_id), None)
        if number is None or not entries[number].is_thread:
            raise BridgeError(f"no thread session for {thread_id}")
        settings = entries[number]
        await self.remove(number, purge=False)
        note = await asyncio.to_thread(end_worktree, self.config, settings)
        return Changed(number, note)

    async def set_threads(self, session: int, enabled: bool) -> Changed:
        async with self._lock:
            entries = dict(self.switchboard.settings())
            settings = entries.get(session)
            if settings is None:
                raise BridgeError(f"no session {session}")
            if settings.is_thread:
                raise BridgeError("a thread cannot have threads of its own")
            entries[session] = msgspec.structs.replace(settings, threads=enabled)
            save_entries(self.layout.sessions_file, entries, self.config.encryption_key)
            await self.send_all(self.switchboard.update_settings(session, entries[session]))
        state = "on" if enabled else "off"
        text = f"Threads {state} for session {session}"
        own = self.config.file.discord.session_overrides(session)
        if own is not None and own.threads is not None and own.threads != enabled:
            text += f" (but vai.toml's [discord.sessions.{session}] threads decides)"
        return Changed(session, text)

    async def plan(self, work_dir: str) -> Changed:
        asked = SessionSettings(channel_id=0, work_dir=work_dir)
        settled = await asyncio.to_thread(
            settle_settings, self.config, 0, asked, confined=True, create=False
        )
        async with self._lock:
            number = next_session_number(self.switchboard.sessions())
        return Changed(number, settled.work_dir or self.config.claude_work_dir)

    async def remove(self, session: int, purge: bool) -> Changed:
        """Stops the worker and Claude, then forgets the session (and purges it); a
        channel's thread sessions go with it (their threads lose their channel's session)."""
        removed = await self._remove_one(session, purge)
        threads = threads_of(self.switchboard.settings(), removed.channel_id)
        notes = []
        for number, settings in threads.items():
            with contextlib.suppress(BridgeError):  # ended meanwhile (archived, say)
                await self._remove_one(number, purge)
                notes.append(await asyncio.to_thread(end_worktree, self.config, settings))
        return Changed(session, removed_text(session, purge, removed, threads, notes))

    async def _remove_one(self, session: int, purge: bool) -> SessionSettings:
        async with self._lock:
            entries = dict(self.switchboard.settings())
            removed = entries.pop(session, None)
            if removed is None:
                raise BridgeError(f"no session {session}")
            channel = removed.channel_id
            save_entries(self.layout.sessions_file, entries, self.config.encryption_key)
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
        return removed

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
