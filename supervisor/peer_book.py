"""What a process lifecycle (children.py) reads and tells of its peers, as a Protocol:
the switchboard on the hub (or a single machine), the host agent's own small book on a
host (supervisor/hub/host_agent.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from vai.protocol.session_settings import SessionSettings
from vai.supervisor.switchboard import Peer


class PeerBook(Protocol):
    """What the lifecycle reads and tells of the peers: the switchboard's, or on a host
    agent its own small book (supervisor/hub/host_agent.py)."""

    gateway_problems: dict[int, str]

    def sessions(self) -> Mapping[int, int]: ...

    def settings(self) -> Mapping[int, SessionSettings]: ...

    def peer(self, session: int | None) -> Peer: ...

    def peer_gone(self, session: int | None) -> None: ...
