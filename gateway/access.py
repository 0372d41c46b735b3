"""Who may talk to Claude, answer its buttons and run the bridge's commands. Pure.

Closed by default. Bots (this one included) and webhooks are never forwarded. The owners
(`owners` in vai.toml, else the application's owner or team as Discord reports it) are
allowed everywhere and are admins. Then the allow lists: user ids and role ids, globally,
replaced per session where the session's route names its own. With no list for a
session, nobody but the owners and admins may talk to Claude there. Admins (admin users
and roles) may run every command and are allowed everywhere; `/add-session` needs one.
Someone refused gets the denied reaction once an hour at most (DeniedNotices), so a
flood of refused messages does not become a flood of requests to Discord.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
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
        owners: Iterable[int] = (),
    ) -> None:
        self.self_id = self_id
        self.default = AllowList(frozenset(allowed_users), frozenset(allowed_roles))
        self.admins = AllowList(frozenset(admin_users), frozenset(admin_roles))
        self.owners: frozenset[int] = frozenset(owners)
        self._sessions: dict[int, AllowList] = {}

    def reconfigure(self, settings: GatewaySettings) -> None:
        """New global lists, admins and configured owners (vai.toml reloaded; the gateway
        adds the application's owners again)."""
        self.owners = frozenset(settings.owners)
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
        return user_id in self.owners or self.admins.admits(user_id, role_ids)

    def needs_roles(self, user_id: int, session: int | None) -> bool:
        """Whether the decision for this user depends on their roles (so look them up)."""
        rules = self.allow_list(session)
        if user_id in self.owners or user_id in rules.users or user_id in self.admins.users:
            return False
        return bool(rules.roles or self.admins.roles)

    def user_allowed(self, user_id: int, role_ids: Iterable[int], session: int | None) -> bool:
        """A human may act for `session` (None: outside any session's channel)."""
        roles = tuple(role_ids)
        return self.is_admin(user_id, roles) or self.allow_list(session).admits(user_id, roles)

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
    def owners_only(self) -> bool:
        """No allow list anywhere: only the owners and admins can drive Claude."""
        return self.default.open and all(rules.open for rules in self._sessions.values())

    def describe(self) -> str:
        """Who may talk to Claude (per-session lists aside), in one line for the log."""
        parts = [f"owners {_ids(self.owners) or 'none'}"]
        if not self.admins.open:
            parts.append(f"admins {_lists(self.admins)}")
        if self.default.open:
            parts.append("nobody else where a session has no allow list of its own")
        else:
            parts.append(f"allowed {_lists(self.default)}")
        return "; ".join(parts)


def _ids(ids: Iterable[int]) -> str:
    return ", ".join(str(i) for i in sorted(ids))


def _lists(rules: AllowList) -> str:
    users = f"users {_ids(rules.users)}" if rules.users else ""
    roles = f"roles {_ids(rules.roles)}" if rules.roles else ""
    return " and ".join(part for part in (users, roles) if part)


class DeniedNotices:
    """Whether someone refused gets the denied reaction now: once per `every` seconds."""

    def __init__(self, every: float = 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.clock = clock
        self._last: dict[int, float] = {}

    def due(self, user_id: int) -> bool:
        now = self.clock()
        last = self._last.get(user_id)
        if last is not None and now - last < self.every:
            return False
        if len(self._last) >= 10_000:  # a flood of strangers: forget the old ones
            self._last = {u: t for u, t in self._last.items() if now - t < self.every}
        self._last[user_id] = now
        return True
