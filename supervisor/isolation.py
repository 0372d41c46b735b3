"""Who Claude runs as, in one line for `vai status` (and the supervisor's log).

Without a user of its own, Claude runs as the bridge: a prompt-injected Claude can read
the bot token and everything the bridge keeps. That is said loudly, every time.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterable

from vai.supervisor.claude_users import lookup
from vai.supervisor.config import ClaudeSection

NONE_MARK = "NONE"


def bridge_user() -> str:
    uid = os.geteuid()
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:
        return f"uid {uid}"


def _user(name: str) -> str:
    user = lookup(name)
    return f"{name} (uid {user.uid})" if user is not None else f"{name} (missing)"


def _numbers(sessions: list[int]) -> str:
    word = "session" if len(sessions) == 1 else "sessions"
    return f"{word} {', '.join(map(str, sessions))}"


def describe(section: ClaudeSection, sessions: Iterable[int]) -> str:
    """`Claude runs as vai-claude (uid 998)`, or a loud NONE (the bridge's own user)."""
    numbers = sorted(sessions)
    by_user: dict[str, list[int]] = {}
    for session in numbers:
        by_user.setdefault(section.user_for(session), []).append(session)
    if not numbers:
        by_user = {section.user.replace("{session}", "N"): []}
    if set(by_user) == {""}:
        return (
            f"{NONE_MARK} — Claude runs as {bridge_user()}, the bridge's own user: it can"
            " read the bot token and every file of the bridge (see `vai doctor`)"
        )
    if len(by_user) == 1:
        (name,) = by_user
        return f"Claude runs as {_user(name) if numbers else name}"
    parts = []
    own = [name for name in by_user if name]
    if len(own) > 3:  # one user per session: the first and the last
        parts.append(f"{len(own)} users of its own ({_user(own[0])} ... {_user(own[-1])})")
        by_user = {"": by_user[""]} if "" in by_user else {}
    for name, owned in by_user.items():
        who = _user(name) if name else f"{NONE_MARK} (the bridge's own user, {bridge_user()})"
        parts.append(f"{who} for {_numbers(owned)}")
    return "Claude runs as " + "; ".join(parts)
