"""Which session a Discord message belongs to, and whether its author may talk to Claude.

Pure rules over plain data, tested without Discord.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.messages import Author, SessionMap


class Router:
    def __init__(self, session_map: SessionMap | None = None) -> None:
        self._by_channel: dict[int, int] = {}
        self._by_session: dict[int, int] = {}
        self._default: int | None = None
        self._route_unmapped = False
        if session_map is not None:
            self.update(session_map)

    def update(self, session_map: SessionMap) -> None:
        self._by_channel = {r.channel_id: r.session for r in session_map.routes}
        self._by_session = {r.session: r.channel_id for r in session_map.routes}
        self._default = session_map.default_session
        self._route_unmapped = session_map.route_unmapped

    def session_for(self, channel_id: int) -> int | None:
        """The session for a channel; unmapped channels go to the default only if configured."""
        session = self._by_channel.get(channel_id)
        if session is None and self._route_unmapped and self._default in self._by_session:
            return self._default
        return session

    def channel_for(self, session: int) -> int | None:
        return self._by_session.get(session)

    @property
    def channels(self) -> list[int]:
        return list(self._by_channel)


@dataclass(frozen=True)
class Verdict:
    forward: bool
    reason: str = ""


class AccessPolicy:
    """Bots, webhooks and the bridge itself are never forwarded; then the allow lists.

    With no allow list configured, every human in a mapped channel may talk to Claude,
    as in the original bridge.
    """

    def __init__(self, self_id: int, allowed_users: list[int], allowed_roles: list[int]) -> None:
        self.self_id = self_id
        self.allowed_users = frozenset(allowed_users)
        self.allowed_roles = frozenset(allowed_roles)

    def check(self, author: Author, is_webhook: bool = False) -> Verdict:
        if author.id == self.self_id:
            return Verdict(False, "own message")
        if author.bot or is_webhook:
            return Verdict(False, "bot or webhook")
        if not self.allowed_users and not self.allowed_roles:
            return Verdict(True)
        if author.id in self.allowed_users:
            return Verdict(True)
        if self.allowed_roles.intersection(author.role_ids):
            return Verdict(True)
        return Verdict(False, "user not allowed")
