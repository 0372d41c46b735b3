"""`vai move N --to HOST`: placement changed by hand, never by the bridge (issue 15).

The session stops where it runs (its worker, and Claude's pane: a turn in progress there
is lost, its message stays open in the inbox), sessions.json records the new host, and the
session starts there; what waits in the inbox reaches the new worker once it is ready,
in order. Claude's conversation is not carried: its transcript is a file in
~/.claude/projects on the old host, and the bridge says so rather than pretend.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import msgspec

from vai.common.errors import BridgeError
from vai.supervisor.children import Children
from vai.supervisor.config import Config
from vai.supervisor.hub.hub_link import HubLink
from vai.supervisor.hub.placement import Placement, record_host
from vai.supervisor.interfaces import Changed
from vai.supervisor.sessions_file import save_entries
from vai.supervisor.switchboard import Send, Switchboard


def moved_text(session: int, old: str, new: str, home: str) -> str:
    return "\n".join(
        [
            f"Session {session} moved from {old} to {new}: stopped on {old}, starting on {new}.",
            "Carried: the channel, and the messages waiting for it (given to Claude on"
            f" {new}, in order, once its worker is ready).",
            f"Lost: Claude's pane on {old} and any turn it was in (that message is given"
            f" again on {new}); Claude's conversation, whose transcript stays on {old} in"
            f" ~/.claude/projects/: Claude on {new} starts a new one.",
            "To carry the conversation, before moving (with the session idle) copy"
            f" ~/.claude/projects/ and {home}/state/session_{session}.json from {old} to"
            f" {new} (same work directory path on both).",
        ]
    )


class SessionMover:
    def __init__(
        self,
        config: Config,
        *,
        placement: Placement,
        switchboard: Switchboard,
        children: Children,
        hub_link: HubLink | None,
        send_all: Callable[[Iterable[Send]], Awaitable[bool]],
    ) -> None:
        self.config = config
        self.placement = placement
        self.switchboard = switchboard
        self.children = children
        self.hub_link = hub_link
        self.send_all = send_all

    def hosts(self) -> list[str]:
        return [self.placement.hub_name, *sorted(self.config.file.hub.hosts)]

    async def move(self, session: int, host: str) -> Changed:
        entries = dict(self.switchboard.settings())
        if session not in entries:
            raise BridgeError(f"no session {session}")
        if host not in self.hosts():
            raise BridgeError(f"no host {host!r}; the hosts are: {', '.join(self.hosts())}")
        if host != self.placement.hub_name and self.hub_link is None:
            raise BridgeError("the hub does not listen for hosts: set [hub] listen")
        old = self.placement.host_of(session)
        if old == host:
            raise BridgeError(f"session {session} already runs on {host}")
        was_remote = self.placement.is_remote(session)
        if not was_remote:
            await self.children.end(session)
        self.placement.place(session, host)
        # The record keeps the host: the file through main's save path, and the
        # switchboard's copy, which every later save writes from.
        moved = msgspec.structs.replace(
            entries[session], host=record_host(host, self.placement.hub_name)
        )
        entries[session] = moved
        save_entries(self.config.layout.sessions_file, entries, self.config.encryption_key)
        await self.send_all(self.switchboard.update_settings(session, moved))
        self.switchboard.peer_gone(session)  # messages wait in the inbox for the new worker
        if was_remote and self.hub_link is not None:
            await self.hub_link.replace(old)  # that host ends it
        if self.placement.is_remote(session):
            assert self.hub_link is not None
            await self.hub_link.replace(host)  # that host starts it
        else:
            child = self.children.add(session)
            await self.children.start(child, f"moved from {old}")
        return Changed(session, moved_text(session, old, host, "$VAI_HOME"))

    async def recover(self, session: int) -> Changed | None:
        """`vai recover N` for a session on another host (None: it runs here)."""
        if not self.placement.is_remote(session):
            return None
        host = self.placement.host_of(session)
        if self.hub_link is None or not await self.hub_link.recover(session):
            raise BridgeError(f"host {host} is down: session {session} restarts when it is back")
        return Changed(session, f"Session {session} restarting on {host}")

    async def forget(self, session: int) -> None:
        """A removed session: the host it ran on ends it."""
        if not self.placement.is_remote(session):
            return
        old = self.placement.host_of(session)
        self.placement.forget(session)
        if self.hub_link is not None:
            await self.hub_link.replace(old)
