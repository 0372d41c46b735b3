"""The hub's part in `vai run` (issue 15), kept out of server.py: the placement of every
session, and with `[hub] listen` the link to the host agents. With neither, nothing
changes: a single machine needs no network.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping

from vai.protocol.messages import PostReply
from vai.protocol.session_settings import SessionSettings
from vai.supervisor.bus import Bus
from vai.supervisor.children import Children
from vai.supervisor.config import Config
from vai.supervisor.hub.hub_link import HubLink
from vai.supervisor.hub.moves import SessionMover
from vai.supervisor.hub.placement import Placement, placed_hosts
from vai.supervisor.interfaces import ChildReading
from vai.supervisor.switchboard import Send, Switchboard

log = logging.getLogger("supervisor")


class HubSide:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.placement = Placement(config.file.hub.name)
        self.link: HubLink | None = None

    def load(self, entries: Mapping[int, SessionSettings]) -> None:
        """Each session where its record (sessions.json) places it."""
        hub_name = self.config.file.hub.name
        self.placement = Placement(hub_name, placed_hosts(entries, hub_name))

    def is_remote(self, session: int) -> bool:
        return self.placement.is_remote(session)

    def open(
        self,
        *,
        clock: Callable[[], float],
        switchboard: Switchboard,
        bus: Bus,
        post: Callable[[PostReply], Awaitable[bool]],
    ) -> None:
        """With `[hub] listen`: the TCP+CURVE socket host agents connect to; a session
        placed on a host is reached through it (bus.remote)."""
        hub = self.config.file.hub
        for session, host in sorted(self.placement.remote_hosts().items()):
            if not hub.listen:
                log.warning(
                    "session %d is placed on host %s but [hub] listen is not set: it does not run",
                    session,
                    host,
                )
            elif host not in hub.hosts:
                log.warning("session %d is placed on host %s, not in [hub.hosts]", session, host)
        if not hub.listen:
            return
        self.link = HubLink(
            self.config,
            clock=clock,
            switchboard=switchboard,
            placement=self.placement,
            send_all=bus.send_all,
            post=post,
        )
        self.link.open()
        bus.remote = self.link

    def tasks(self) -> list[asyncio.Task[None]]:
        if self.link is None:
            return []
        return [
            asyncio.create_task(self.link.serve()),
            asyncio.create_task(self.link.tick()),
            asyncio.create_task(self.link.watch()),
        ]

    def close(self) -> None:
        if self.link is not None:
            self.link.close()

    def mover(
        self,
        *,
        switchboard: Switchboard,
        children: Children,
        send_all: Callable[[Iterable[Send]], Awaitable[bool]],
    ) -> SessionMover:
        return SessionMover(
            self.config,
            placement=self.placement,
            switchboard=switchboard,
            children=children,
            hub_link=self.link,
            send_all=send_all,
        )

    def reading(self, session: int) -> ChildReading | None:
        """A remote session's reading (None: it runs on this machine)."""
        if not self.placement.is_remote(session):
            return None
        if self.link is None:
            host = self.placement.host_of(session)
            return ChildReading(detail=f"placed on {host}; the hub does not listen")
        return self.link.reading(session)

    def host_of(self, session: int) -> tuple[str, bool]:
        """Where the session runs and whether its host is down ("": one machine)."""
        remote = self.placement.is_remote(session)
        if self.link is None and not remote:
            return "", False
        host = self.placement.host_of(session)
        return host, remote and (self.link is None or not self.link.host_up(host))
