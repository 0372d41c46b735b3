"""Where each session runs (issue 15): explicit, from sessions.json, never decided here.

Each session's record (protocol/session_settings.py) names its host. The record's
default, LOCAL_HOST, is the hub's own machine, and so is the hub's own name
(`[hub] name`): such a session runs here as before; any other host name is a host agent
reached through the hub link.
"""

from __future__ import annotations

from collections.abc import Mapping

from vai.protocol.session_settings import LOCAL_HOST, SessionSettings


def placed_hosts(entries: Mapping[int, SessionSettings], hub_name: str) -> dict[int, str]:
    """Session number -> host, for the records placed anywhere but the hub's machine."""
    return {n: s.host for n, s in entries.items() if s.host not in ("", LOCAL_HOST, hub_name)}


def record_host(host: str, hub_name: str) -> str:
    """What a record stores for `host`: the hub's own machine is the default, so a
    single-machine record keeps its original form (a bare channel id)."""
    return LOCAL_HOST if host in ("", hub_name) else host


class Placement:
    def __init__(self, hub_name: str, hosts: Mapping[int, str] | None = None) -> None:
        self.hub_name = hub_name
        self._hosts: dict[int, str] = dict(hosts or {})

    def host_of(self, session: int) -> str:
        return self._hosts.get(session) or self.hub_name

    def is_remote(self, session: int) -> bool:
        return self.host_of(session) != self.hub_name

    def place(self, session: int, host: str) -> None:
        if host and host != self.hub_name:
            self._hosts[session] = host
        else:
            self._hosts.pop(session, None)

    def forget(self, session: int) -> None:
        self._hosts.pop(session, None)

    def on(self, host: str, sessions: Mapping[int, int]) -> dict[int, int]:
        """The sessions (session -> channel) placed on `host`."""
        return {s: c for s, c in sessions.items() if self.host_of(s) == host}

    def remote_hosts(self) -> dict[int, str]:
        return dict(self._hosts)
