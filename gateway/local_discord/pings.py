"""Whom a posted message notifies, as Discord decides it, so tests can see who was pinged.

A message's `mentions` list every user named in its content whatever the sender allowed;
whether a mention notifies is up to the request's `allowed_mentions`: without one, every
mention does (users, roles, @everyone/@here); with one, only the kinds in `parse`, the
users and roles it lists, and the author of the replied-to message when `replied_user`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_USER = re.compile(r"<@!?(\d+)>")
_ROLE = re.compile(r"<@&(\d+)>")
_EVERYONE = re.compile(r"@(everyone|here)\b")


@dataclass(frozen=True)
class Pings:
    users: tuple[int, ...] = ()
    roles: tuple[int, ...] = ()
    everyone: bool = False
    allowed_mentions: Mapping[str, Any] | None = None  # as the request sent it

    @property
    def anyone(self) -> bool:
        return bool(self.users or self.roles or self.everyone)


def _ids(values: object) -> set[int]:
    if not isinstance(values, list):
        return set()
    return {int(v) for v in values if str(v).isascii() and str(v).isdigit()}


def pings(content: str, allowed: object, replied_author: int | None = None) -> Pings:
    """Who is notified by `content` posted with `allowed` (the request's allowed_mentions,
    None when absent), replying to a message by `replied_author` (None: not a reply)."""
    explicit = isinstance(allowed, Mapping)
    rules: Mapping[str, Any] = allowed if isinstance(allowed, Mapping) else {}
    parse = set(rules.get("parse") or []) if explicit else {"users", "roles", "everyone"}
    named_users, named_roles = _ids(rules.get("users")), _ids(rules.get("roles"))
    users = [
        int(u)
        for u in dict.fromkeys(_USER.findall(content))
        if "users" in parse or int(u) in named_users
    ]
    if replied_author is not None and (rules.get("replied_user") if explicit else True):
        users += [] if replied_author in users else [replied_author]
    roles = [
        int(r)
        for r in dict.fromkeys(_ROLE.findall(content))
        if "roles" in parse or int(r) in named_roles
    ]
    everyone = bool(_EVERYONE.search(content)) and "everyone" in parse
    return Pings(tuple(users), tuple(roles), everyone, rules if explicit else None)
