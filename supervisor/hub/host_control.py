"""The control API on a host agent: `vai status` for this machine's sessions, `dp`, and
recover; the session set itself, and the operator's stops, are the hub's (sessions.json
lives there).

`dp` from a session on this host posts only to that session's channel, and a file goes
as bytes (read here, with the same size limit as on the hub), never as a path: the hub
has no access to this machine's disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from vai.common.errors import BridgeError
from vai.protocol.host_link import PostFile
from vai.protocol.messages import Interrupt, PostReply
from vai.protocol.session_settings import SessionSettings
from vai.supervisor.interfaces import Changed
from vai.supervisor.switchboard import Worker

if TYPE_CHECKING:
    from vai.supervisor.hub.host_agent import HostAgent

ON_THE_HUB = "sessions are placed and stopped from the hub: run this on the hub"


class HostChanges:
    """interfaces.SessionChanges for a host agent: only recover is this machine's."""

    def __init__(self, agent: HostAgent) -> None:
        self.agent = agent

    async def add(
        self, channel_id: int, settings: SessionSettings | None = None, *, confined: bool = False
    ) -> Changed:
        raise BridgeError(ON_THE_HUB)

    def settings(self) -> Mapping[int, SessionSettings]:
        return self.agent.peers.settings()

    async def add_thread(
        self, thread_id: int, parent_channel_id: int, name: str, after: int
    ) -> Changed:
        raise BridgeError(ON_THE_HUB)

    async def end_thread(self, thread_id: int) -> Changed:
        raise BridgeError(ON_THE_HUB)

    async def set_threads(self, session: int, enabled: bool) -> Changed:
        raise BridgeError(ON_THE_HUB)

    async def plan(self, work_dir: str) -> Changed:
        raise BridgeError(ON_THE_HUB)

    async def remove(self, session: int, purge: bool) -> Changed:
        raise BridgeError(ON_THE_HUB)

    async def move(self, session: int, host: str) -> Changed:
        raise BridgeError(ON_THE_HUB)

    async def restart(self, session: int | None) -> Changed:
        raise BridgeError(ON_THE_HUB)

    async def stop(self, session: int) -> Changed:
        raise BridgeError(ON_THE_HUB)

    async def start(self, session: int) -> Changed:
        raise BridgeError(ON_THE_HUB)

    async def recover(self, session: int) -> Changed:
        if not await self.agent.children.recover(session):
            raise BridgeError(f"no session {session} on this host")
        return Changed(session, f"Session {session} restarting")


class HostOperations:
    """interfaces.Operations for a host agent."""

    def __init__(self, agent: HostAgent) -> None:
        self.agent = agent

    async def interrupt(self, session: int) -> str:
        sent = await self.agent.bus.send(Worker(session), Interrupt())
        return "sent" if sent else "not_running"

    async def reload(self) -> list[str]:
        return ["a host agent reads vai.toml at start: restart it (systemctl restart vai-host)"]

    async def post(self, reply: PostReply) -> bool:
        sessions = self.agent.peers.sessions()
        session = next((s for s, c in sessions.items() if c == reply.channel_id), None)
        if session is None:
            raise BridgeError("a host posts only to its own sessions' channels")
        data = b""
        if reply.file_path:
            data = await asyncio.to_thread(Path(reply.file_path).read_bytes)
        await self.agent.hub.send(
            PostFile(
                session=session,
                text=reply.text,
                filename=Path(reply.file_path).name if reply.file_path else "",
                data=data,
            )
        )
        return self.agent.hub.up

    def stop(self) -> None:
        self.agent.stopping.set()
