"""Where each session runs (issue 15): explicit, from sessions.json, never decided here.

A session without a host, or placed on the hub's own name, runs on the hub's machine as
before; any other host name is a host agent reached through the hub link.
"""

from __future__ import annotations

from collections.abc import Mapping


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
