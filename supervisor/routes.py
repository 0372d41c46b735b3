"""The session map the gateway routes by, built from the sessions' records and vai.toml. Pure.

Each route says which channel a session owns, where catching up starts, who may talk to
it, and for threads: a thread session names its parent channel, and a channel's session
says whether new threads in it get sessions of their own. A thread session is allowed to
the people of its parent (the parent's `[discord.sessions.N]` lists) unless it has lists
of its own; `threads` in `[discord.sessions.N]` wins over what `/threads` stored.
"""

from __future__ import annotations

from collections.abc import Mapping

from vai.protocol.messages import Route, SessionMap
from vai.protocol.session_settings import SessionSettings
from vai.supervisor.config import DiscordSection


def threads_enabled(session: int, settings: SessionSettings, discord: DiscordSection) -> bool:
    """Whether new threads in this session's channel get sessions (never for a thread)."""
    if settings.is_thread:
        return False
    own = discord.session_overrides(session)
    if own is not None and own.threads is not None:
        return own.threads
    return settings.threads


def route(
    session: int,
    settings: SessionSettings,
    parent_session: int | None,
    discord: DiscordSection,
    last_message_id: int,
) -> Route:
    """A session's route, with its own (or its parent's) allow lists when vai.toml has some."""
    own = discord.session_overrides(session)
    if own is None and parent_session is not None:
        own = discord.session_overrides(parent_session)
    users = None if own is None else own.allowed_users
    roles = None if own is None else own.allowed_roles
    return Route(
        session=session,
        channel_id=settings.channel_id,
        last_message_id=last_message_id,
        allowed_users=None if users is None else tuple(users),
        allowed_roles=None if roles is None else tuple(roles),
        thread_of=settings.parent_channel_id if settings.is_thread else 0,
        threads=threads_enabled(session, settings, discord),
    )


def session_map(
    sessions: Mapping[int, SessionSettings], discord: DiscordSection, last: Mapping[int, int]
) -> SessionMap:
    by_channel = {s.channel_id: n for n, s in sessions.items()}
    routes = [
        route(n, s, by_channel.get(s.parent_channel_id), discord, last.get(s.channel_id, 0))
        for n, s in sorted(sessions.items())
    ]
    return SessionMap(
        routes=routes,
        default_session=discord.default_session,
        route_unmapped=discord.route_unmapped == "default",
    )
