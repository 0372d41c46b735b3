"""Who may talk to Claude, answer its buttons and run the bridge's commands. Pure.

Bots (this one included) and webhooks are never forwarded. Then the allow lists: user ids
and role ids, globally, replaced per session where the session's route names its own.
With no list at all for a session, every human who can post in its channel may talk to
Claude, as in the original bridge. Admins (admin users and roles) may run every command
and are allowed everywhere; `/add-session` needs an admin.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vai.protocol.messages import Author, SessionMap
from vai.protocol.specs import GatewaySettings


@dataclass(frozen=True)
class Verdict:
    forward: bool
    reason: str = ""

    @property
    def denied_human(self) -> bool:
        """Refused because of the allow lists (not a bot, webhook or our own message)."""
        return not self.forward and self.reason == NOT_ALLOWED


NOT_ALLOWED = "user not allowed"


@dataclass(frozen=True)
class AllowList:
    users: frozenset[int] = frozenset()
    roles: frozenset[int] = frozenset()

    @property
    def open(self) -> bool:
        return not self.users and not self.roles

    def admits(self, user_id: int, role_ids: Iterable[int]) -> bool:
        return user_id in self.users or not self.roles.isdisjoint(role_ids)


class AccessPolicy:
    def __init__(
        self,
        self_id: int,
        allowed_users: Iterable[int] = (),
        allowed_roles: Iterable[int] = (),
        *,
        admin_users: Iterable[int] = (),
        admin_roles: Iterable[int] = (),
    ) -> None:
        self.self_id = self_id
        self.default = AllowList(frozenset(allowed_users), frozenset(allowed_roles))
        self.admins = AllowList(frozenset(admin_users), frozenset(admin_roles))
        self._sessions: dict[int, AllowList] = {}

    def reconfigure(self, settings: GatewaySettings) -> None:
        """New global lists and admins (vai.toml reloaded)."""
        self.default = AllowList(frozenset(settings.allowed_users),
                                 frozenset(settings.allowed_roles))  # fmt: skip
        self.admins = AllowList(frozenset(settings.admin_users), frozenset(settings.admin_roles))

    def update(self, session_map: SessionMap) -> None:
        """Per-session lists from the routes; a route without its own lists uses the global."""
        sessions = {}
        for route in session_map.routes:
            if route.allowed_users is not None or route.allowed_roles is not None:
                sessions[route.session] = AllowList(
                    frozenset(route.allowed_users or ()), frozenset(route.allowed_roles or ())
                )
        self._sessions = sessions

    def allow_list(self, session: int | None) -> AllowList:
        if session is None:
            return self.default
        return self._sessions.get(session, self.default)

    def is_admin(self, user_id: int, role_ids: Iterable[int]) -> bool:
        return self.admins.admits(user_id, role_ids)

    def needs_roles(self, user_id: int, session: int | None) -> bool:
        """Whether the decision for this user depends on their roles (so look them up)."""
        rules = self.allow_list(session)
        if rules.open or user_id in rules.users or user_id in self.admins.users:
            return False
        return bool(rules.roles or self.admins.roles)

    def user_allowed(self, user_id: int, role_ids: Iterable[int], session: int | None) -> bool:
        """A human may act for `session` (None: outside any session's channel)."""
        roles = tuple(role_ids)
        if self.is_admin(user_id, roles):
            return True
        rules = self.allow_list(session)
        return rules.open or rules.admits(user_id, roles)

    def check(self, author: Author, session: int | None, is_webhook: bool = False) -> Verdict:
        """Whether a message by `author` in `session`'s channel is forwarded to Claude."""
        if author.id == self.self_id:
            return Verdict(False, "own message")
        if author.bot or is_webhook:
            return Verdict(False, "bot or webhook")
        if self.user_allowed(author.id, author.role_ids, session):
            return Verdict(True)
        return Verdict(False, NOT_ALLOWED)

    @property
    def wide_open(self) -> bool:
        """No allow list anywhere: anyone in a mapped channel can drive Claude."""
        return self.default.open and all(rules.open for rules in self._sessions.values())
