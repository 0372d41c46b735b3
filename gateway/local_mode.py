"""Running against the embedded local Discord-compatible server (no bot token given).

The server runs in the gateway's own event loop, so `vai run` alone shows a message go in
and an answer come out: open the printed URL and chat with the sessions. Only the operator
may: the bot token and the chat page's key are random for each run (another local user can
reach 127.0.0.1 but not read the bridge's logs, which are private), see
`local_discord.page_access`.
"""

from __future__ import annotations

import logging
import secrets

from vai.gateway.local_discord import LocalDiscord
from vai.protocol.messages import SessionMap
from vai.protocol.specs import GatewaySpec

log = logging.getLogger("gateway.local")


async def start_local_discord(spec: GatewaySpec) -> tuple[LocalDiscord, str]:
    """The embedded server and the bot token it accepts (both new for each run)."""
    token = secrets.token_urlsafe(32)
    server = LocalDiscord(port=spec.local_port, token=token, rate_limits=True)
    try:
        await server.start()
    except OSError as exc:
        log.warning("port %d is busy (%s); using a free one", spec.local_port, exc)
        server = LocalDiscord(port=0, token=token, rate_limits=True)
        await server.start()
    log.info("local Discord at %s (the chat page opens with this run's key)", server.base_url)
    return server, token


def ensure_channels(server: LocalDiscord, session_map: SessionMap) -> None:
    """Every mapped channel exists in the local guild, named after its session."""
    known = server.channels()
    for route in session_map.routes:
        if route.channel_id not in known:
            server.add_channel(f"session-{route.session}", channel_id=route.channel_id)
