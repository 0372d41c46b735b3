"""The gateway process: discord.py pointed at Discord, or at the embedded local server.

Exit codes: 0 stopped cleanly, 1 an unexpected failure (the supervisor restarts it),
EXIT_CONFIG (78) the operator must fix something first (bad token, Message Content
intent off): the reason is logged in one line and sent to the supervisor for `vai status`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import aiohttp
import discord
import yarl

from vai.common.bus_auth import ClientKeys
from vai.common.child_secrets import SecretsError, read_secrets
from vai.common.exit_codes import EXIT_CONFIG, EXIT_USAGE
from vai.common.logs import name_ids, setup_logging
from vai.common.secrecy import make_undumpable
from vai.gateway.bot import BridgeBot
from vai.gateway.preflight import (
    bad_token_text,
    intent_text,
    malformed_token_text,
    unreachable_text,
)
from vai.protocol.specs import GATEWAY_SPEC_ENV, GatewaySpec, decode_spec

log = logging.getLogger("gateway")

# Close codes after which reconnecting cannot help (discord.py raises ConnectionClosed).
AUTH_FAILED = 4004
BAD_INTENTS = (4013, 4014)
REPORT_LINGER_MS = 1000


def point_discord_at(api_url: str, gateway_url: str) -> None:
    """discord.py has no public switch for its endpoints; these class attributes are it."""
    discord.http.Route.BASE = api_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


def fatal_reason(exc: BaseException, spec: GatewaySpec) -> str | None:
    """The operator-facing reason when `exc` means the configuration must change."""
    env_file = spec.layout.env_file
    if isinstance(exc, discord.LoginFailure):
        return bad_token_text(env_file, "401 Unauthorized")
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return intent_text()
    if isinstance(exc, discord.ConnectionClosed):
        if exc.code == AUTH_FAILED:
            return bad_token_text(env_file, "gateway close 4004")
        if exc.code in BAD_INTENTS:
            return intent_text()
    return None


async def run(spec: GatewaySpec, token: str | None, keys: ClientKeys) -> int:
    local = None
    if spec.local_discord:
        from vai.gateway.local_mode import start_local_discord

        local, token = await start_local_discord(spec)
        point_discord_at(local.api_url, local.gateway_url)
    else:
        point_discord_at(spec.api_url, spec.gateway_url)
    token = (token or "").strip()
    bot = BridgeBot(spec, keys, local)
    name_ids(bot.router.channel_names)
    code = 0
    reason: str | None = None
    try:
        if not token:
            reason = (
                f"no bot token: set DISCORD_BOT_TOKEN in {spec.layout.env_file} or the"
                " environment (or remove it everywhere to use the local Discord)"
            )
        elif any(c.isspace() for c in token):
            reason = malformed_token_text(spec.layout.env_file)
        else:
            bot.start_link()
            await bot.run_discord(token)
    except (
        discord.LoginFailure,
        discord.PrivilegedIntentsRequired,
        discord.ConnectionClosed,
    ) as exc:
        reason = fatal_reason(exc, spec)
        if reason is None:
            log.error("Discord closed the connection: %s", exc)
            code = 1
    except (aiohttp.ClientConnectorError, aiohttp.ClientConnectionError, TimeoutError) as exc:
        log.error("%s", unreachable_text(discord.http.Route.BASE, exc))
        code = 1
    finally:
        if reason is not None:
            log.error("%s", reason)
            await bot.report_fatal(reason)
            code = EXIT_CONFIG
        if not bot.is_closed():
            await bot.close()
        bot.link.close(REPORT_LINGER_MS if reason else 0)
        if local is not None:
            await local.stop()
    return code


def main() -> int:
    make_undumpable()  # no process of this user may read the token from our memory
    raw = os.environ.get(GATEWAY_SPEC_ENV)
    if not raw:
        print(
            f"gateway: {GATEWAY_SPEC_ENV} is not set (the supervisor starts the gateway)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    setup_logging("gateway")
    spec = decode_spec(raw, GatewaySpec)
    try:
        secrets = read_secrets(spec.secrets_fd)  # the token and the bus keys, never in env
    except SecretsError as exc:
        log.error("%s", exc)
        return EXIT_USAGE
    try:
        return asyncio.run(run(spec, secrets.bot_token or None, secrets.bus))
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
