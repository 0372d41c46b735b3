"""The bot token and the Discord application: logged in to the configured Discord API (so a
Discord-compatible test server works too), the token never shown."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

from vai.supervisor.config import Config
from vai.supervisor.doctor.findings import Finding, fail, ok, warn

# Application flags: the Message Content intent, full (verified bots) or limited.
GATEWAY_MESSAGE_CONTENT = 1 << 18
GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19
USER_AGENT = "DiscordBot (https://github.com/claude-discord-bridge, 0.1) vai-doctor"


def token_source(config: Config, environ: dict[str, str]) -> str:
    if environ.get("DISCORD_BOT_TOKEN"):
        return "the environment"
    return str(config.layout.env_file)


def _get(url: str, token: str, timeout: float) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bot {token}", "User-Agent": USER_AGENT}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


def check_token(
    config: Config, environ: dict[str, str], online: bool = True, timeout: float = 10.0
) -> Iterator[Finding]:
    token = config.token
    if not token:
        yield warn(
            "no bot token: `vai run` starts the local demo Discord, not a real bot",
            f"put DISCORD_BOT_TOKEN=... in {config.layout.env_file} (mode 0600)",
        )
        return
    where = token_source(config, environ)
    if len(token.split(".")) != 3 or any(c.isspace() for c in token):
        yield warn(
            f"the bot token from {where} does not look like a Discord bot token",
            "copy it again from the developer portal (Bot > Reset Token)",
        )
    if not online:
        yield ok(f"bot token set (in {where}; not checked: --offline)")
        return
    api = config.api_url
    try:
        status, me = _get(f"{api}/users/@me", token, timeout)
    except (OSError, ValueError) as exc:
        yield warn(f"could not reach {api} to check the token: {exc}", "check the network")
        return
    if status == 401:
        yield fail(
            f"Discord refused the bot token from {where} (401)",
            f"reset the token in the developer portal and update {where}",
        )
        return
    if status != 200 or not isinstance(me, dict):
        yield warn(f"{api}/users/@me answered {status}; the token could not be checked")
        return
    name = me.get("username", "?")
    yield ok(f"bot token accepted: logged in as {name} (token from {where}, not shown)")
    try:
        status, app = _get(f"{api}/oauth2/applications/@me", token, timeout)
    except (OSError, ValueError) as exc:
        yield warn(f"could not read the application to check intents: {exc}")
        return
    if status != 200 or not isinstance(app, dict):
        yield warn(f"{api}/oauth2/applications/@me answered {status}; intents not checked")
        return
    flags = int(app.get("flags") or 0)
    if flags & (GATEWAY_MESSAGE_CONTENT | GATEWAY_MESSAGE_CONTENT_LIMITED):
        yield ok("the Message Content intent is enabled")
    else:
        yield fail(
            "the Message Content intent is not enabled: the bot would see empty messages",
            "Discord developer portal > your application > Bot > Privileged Gateway Intents"
            " > Message Content Intent: on",
        )
