"""The gateway process: discord.py pointed at Discord, or at the embedded local server."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import discord
import yarl

from gateway.bot import BridgeBot
from gateway.spec import SPEC_ENV, TOKEN_ENV, GatewaySpec, decode_spec
from supervisor.logs import setup_logging

log = logging.getLogger("gateway")


def point_discord_at(api_url: str, gateway_url: str) -> None:
    """discord.py has no public switch for its endpoints; these class attributes are it."""
    discord.http.Route.BASE = api_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


async def run(spec: GatewaySpec, token: str | None) -> int:
    local = None
    if spec.local_discord:
        from gateway.local_mode import start_local_discord

        local, token = await start_local_discord(spec)
        point_discord_at(local.api_url, local.gateway_url)
    else:
        point_discord_at(spec.api_url, spec.gateway_url)
    if not token:
        log.error(
            "no bot token: set DISCORD_BOT_TOKEN in %s or the environment", spec.layout.env_file
        )
        return 2
    bot = BridgeBot(spec, local)
    try:
        await bot.start(token)
    except discord.LoginFailure:
        log.error("Discord refused the bot token; check DISCORD_BOT_TOKEN")
        return 2
    except discord.PrivilegedIntentsRequired:
        log.error(
            "the Message Content intent is not enabled for this bot: enable it in the"
            " Discord developer portal (Bot > Privileged Gateway Intents)"
        )
        return 2
    finally:
        if not bot.is_closed():
            await bot.close()
        if local is not None:
            await local.stop()
    return 0


def main() -> int:
    raw = os.environ.get(SPEC_ENV)
    if not raw:
        print(
            f"gateway: {SPEC_ENV} is not set (the supervisor starts the gateway)", file=sys.stderr
        )
        return 2
    setup_logging("gateway")
    spec = decode_spec(raw)
    token = os.environ.pop(TOKEN_ENV, None)
    try:
        return asyncio.run(run(spec, token))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
