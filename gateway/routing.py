"""Which session a Discord channel belongs to. Pure rules over plain data.

Who may talk to Claude is gateway.access's job.
"""

from __future__ import annotations

from vai.protocol.messages import SessionMap


class Router:
    def __init__(self, session_map: SessionMap | None = None) -> None:
        self._by_channel: dict[int, int] = {}
        self._by_session: dict[int, int] = {}
        self._default: int | None = None
        self._route_unmapped = False
        self._threads_on: set[int] = set()  # channels whose new threads get sessions
        if session_map is not None:
            self.update(session_map)

    def update(self, session_map: SessionMap) -> None:
        self._by_channel = {r.channel_id: r.session for r in session_map.routes}
        self._by_session = {r.session: r.channel_id for r in session_map.routes}
        self._default = session_map.default_session
        self._route_unmapped = session_map.route_unmapped
        self._threads_on = {r.channel_id for r in session_map.routes if r.threads}

    def threads_on(self, channel_id: int) -> bool:
        """Whether new threads in this channel get sessions of their own."""
        return channel_id in self._threads_on

    def session_for(self, channel_id: int) -> int | None:
        """The session for a channel; unmapped channels go to the default only if configured."""
        session = self._by_channel.get(channel_id)
        if session is None and self._route_unmapped and self._default in self._by_session:
            return self._default
        return session

    def own_session(self, channel_id: int) -> int | None:
        """The session this very channel is (never the default for unmapped channels)."""
        return self._by_channel.get(channel_id)

    def channel_for(self, session: int) -> int | None:
        return self._by_session.get(session)

    @property
    def channels(self) -> list[int]:
        return list(self._by_channel)

    def channel_names(self) -> dict[int, str]:
        """How logs show each session's channel id (common.logs.name_ids): by its session,
        never in plain text (with ENCRYPTION_KEY the ids are private)."""
        return {channel: f"[channel of session {s}]" for channel, s in self._by_channel.items()}
