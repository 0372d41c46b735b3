"""Problems only the operator can fix, said clearly once, with the fix, instead of a trace.

Fatal ones (a bad token, the Message Content intent off) stop the gateway with
EXIT_CONFIG so the supervisor does not restart it into the same wall (and into a pile
of 401s, which count as invalid requests). A channel the bot cannot see, or where it
lacks a permission it needs, is reported for `vai status` and re-checked whenever the
session map changes; the other sessions keep working.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import discord

from vai.gateway.routing import Router

log = logging.getLogger("gateway.preflight")

PORTAL = "https://discord.com/developers/applications"
NEEDED = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "read_message_history": "Read Message History",
    "add_reactions": "Add Reactions",
    "attach_files": "Attach Files",
}

Report = Callable[[int, str], Awaitable[None]]
# Unknown Channel, Missing Access, Missing Permissions.
UNUSABLE_CODES = (10003, 50001, 50013)


def bad_token_text(env_file: Path, detail: str = "") -> str:
    why = f" ({detail})" if detail else ""
    return (
        f"Discord refused the bot token{why}: put the bot's token in {env_file} as"
        f" DISCORD_BOT_TOKEN=... (developer portal {PORTAL} > your app > Bot > Reset Token),"
        " then restart with `vai stop && vai start`"
    )


def malformed_token_text(env_file: Path) -> str:
    return (
        f"DISCORD_BOT_TOKEN in {env_file} (or the environment) contains spaces or line"
        " breaks: paste the token alone on one line, then restart with `vai stop && vai start`"
    )


def intent_text() -> str:
    return (
        "the Message Content intent is not enabled for this bot, so Discord refuses to"
        f" connect: enable it in the developer portal ({PORTAL} > your app > Bot >"
        " Privileged Gateway Intents > Message Content Intent), then `vai stop && vai start`"
    )


def unreachable_text(url: str, error: BaseException) -> str:
    detail = str(error) or type(error).__name__
    return (
        f"cannot reach Discord at {url}: {detail} (check the network, or"
        " VAI_DISCORD_API_URL); the gateway keeps trying"
    )


def interactions_endpoint_text(url: str) -> str:
    return (
        f"the Discord application has an Interactions Endpoint URL ({url}), so Discord sends"
        " button clicks and slash commands there instead of to the bridge: clear it in the"
        f" developer portal ({PORTAL} > your app > General Information)"
    )


class ChannelCheck:
    """Whether the bot can see and use every mapped channel; reports changes only."""

    def __init__(self, client: discord.Client, router: Router, report: Report) -> None:
        self.client = client
        self.router = router
        self.report = report
        self.problems: dict[int, str] = {}
        # Channels the bot cannot use at all: nothing is sent there (a 403 is an invalid
        # request) until a check finds them usable again.
        self.blocked: dict[int, str] = {}

    def reason_blocked(self, channel_id: int) -> str:
        return self.blocked.get(channel_id, "")

    async def mark_unusable(self, channel_id: int, error: discord.HTTPException) -> None:
        """A post failed because the channel is gone or hidden: stop sending there."""
        if error.code not in UNUSABLE_CODES or channel_id in self.blocked:
            return
        session = self.router.session_for(channel_id)
        problem = (
            f"the bot cannot post in session {session}'s channel"
            f" ({error.status} {error.text}): check that it can see the channel and send"
            " messages there"
        )
        log.error("%s", problem)
        self.blocked[channel_id] = problem
        self.problems[channel_id] = problem
        await self.report(channel_id, problem)

    async def run(self) -> None:
        for channel_id in self.router.channels:
            session = self.router.session_for(channel_id)
            problem, unusable = await self._problem(channel_id, session)
            if unusable:
                self.blocked[channel_id] = problem
            else:
                self.blocked.pop(channel_id, None)
            if problem == self.problems.get(channel_id, ""):
                continue
            if problem:
                log.error("%s", problem)
                self.problems[channel_id] = problem
            else:
                log.info("channel %d is fine now", channel_id)
                self.problems.pop(channel_id, None)
            await self.report(channel_id, problem)
        for channel_id in [c for c in self.problems if self.router.session_for(c) is None]:
            del self.problems[channel_id]
            self.blocked.pop(channel_id, None)
            await self.report(channel_id, "")

    async def _problem(self, channel_id: int, session: int | None) -> tuple[str, bool]:
        """What is wrong with the channel ("" if nothing), and whether it is unusable."""
        where = f"session {session}'s channel"
        channel = self.client.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.client.fetch_channel(channel_id)
            except discord.NotFound:
                return (
                    f"{where} does not exist or the bot is not in its server: invite the bot"
                    " to that server, or fix the channel id (`vai remove-session`, `vai"
                    " add-session`)",
                    True,
                )
            except discord.Forbidden:
                return (
                    f"the bot cannot see {where}: give its role the View Channel and Read"
                    " Message History permissions in that channel",
                    True,
                )
            except discord.HTTPException as exc:
                log.warning("checking channel %d failed: %s", channel_id, exc)
                return self.problems.get(channel_id, ""), channel_id in self.blocked
        if isinstance(channel, discord.abc.GuildChannel):
            me = channel.guild.me
            if me is None:
                return "", False
            permissions = channel.permissions_for(me)
            missing = [label for name, label in NEEDED.items() if not getattr(permissions, name)]
            if missing:
                unusable = not (permissions.view_channel and permissions.send_messages)
                return (
                    f"the bot lacks {', '.join(missing)} in {where} (#{channel.name}):"
                    " grant them to its role in that channel",
                    unusable,
                )
        return "", False
