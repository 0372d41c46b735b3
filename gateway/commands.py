"""Application commands: /status, /sessions, /recover, /interrupt and /add-session
(and /new, /bind, /close: gateway/session_commands.py).

Each one asks the supervisor's control API, as `vai` does, so Discord and the terminal
show the same facts. Every command is checked with the same access policy as messages
(allowed users and roles of the channel's session; `/add-session` needs an admin), is
acknowledged at once (Discord allows 3 s) and answered by a followup. Commands are
registered per guild, and only when what Discord has differs from what is defined here.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands

from vai.common.status_view import CLAUDE_STATES, format_bytes, format_uptime, render_status
from vai.gateway.access import AccessPolicy
from vai.gateway.control import ControlClient, ControlError
from vai.gateway.mentions import post_mentions
from vai.gateway.routing import Router
from vai.gateway.session_commands import define_session_commands, on_close_click
from vai.gateway.usage_command import define_usage_command
from vai.protocol.messages import (
    AddSession,
    InterruptSession,
    ListSessions,
    OkReply,
    RecoverSession,
    SessionInfo,
    SessionsReply,
    StatusReply,
    StatusRequest,
)
from vai.protocol.text import split_for_discord

log = logging.getLogger("gateway.commands")

ADD_SESSION_TIMEOUT = 45.0
Problem = Callable[[str], Awaitable[None]]


def _roles_of(user: discord.abc.User) -> tuple[int, ...]:
    return tuple(role.id for role in getattr(user, "roles", ()))


def render_sessions(sessions: list[SessionInfo]) -> str:
    if not sessions:
        return "No sessions yet. An admin can run `/add-session` in a channel."
    lines = []
    for info in sessions:
        memory = f" · {format_bytes(info.memory_bytes)}" if info.memory_bytes else ""
        lines.append(
            f"**{info.session}** <#{info.channel_id}> · {info.state}"
            f" · Claude {CLAUDE_STATES.get(info.claude_state, info.claude_state)}"
            f" · {info.queued} queued · up {format_uptime(info.uptime_s)}{memory}"
        )
    return "\n".join(lines)


def render_status_message(status: StatusReply) -> list[str]:
    body = render_status(status)
    text = f"```\n{body}\n```"
    if status.problems:
        text += "\n" + "\n".join(f"⚠️ {p}" for p in status.problems)
    return split_for_discord(text)


def _signature(payload: dict[str, Any]) -> tuple[Any, ...]:
    options = tuple(
        (o.get("name"), o.get("description"), int(o.get("type", 0)), bool(o.get("required")))
        for o in payload.get("options") or []
    )
    return (payload.get("name"), payload.get("description", ""), options)


class BridgeCommands:
    def __init__(
        self,
        client: discord.Client,
        control: ControlClient,
        router: Router,
        access: Callable[[], AccessPolicy | None],
        report_problem: Problem,
    ) -> None:
        self.client = client
        self.control = control
        self.router = router
        self.access = access
        self.report_problem = report_problem
        self.tree: app_commands.CommandTree[discord.Client] = app_commands.CommandTree(client)
        self._define()

    # -- registration -------------------------------------------------------------------------

    async def sync(self) -> None:
        """Register the commands in every guild whose registration differs from ours."""
        for guild in self.client.guilds:
            self.tree.copy_global_to(guild=guild)
            wanted = sorted(
                _signature(c.to_dict(self.tree)) for c in self.tree.get_commands(guild=guild)
            )
            try:
                existing = await self.tree.fetch_commands(guild=guild)
                if sorted(_signature(dict(c.to_dict())) for c in existing) == wanted:
                    continue
                await self.tree.sync(guild=guild)
                log.info("registered %d commands in guild %s", len(wanted), guild.id)
            except discord.Forbidden:
                await self.report_problem(
                    f"the bot may not register slash commands in server {guild.name!r}:"
                    " re-invite it with the `applications.commands` scope"
                )
            except discord.HTTPException as exc:
                log.warning("registering commands in guild %s failed: %s", guild.id, exc)

    # -- checks ---------------------------------------------------------------------------------

    def _session_here(self, interaction: discord.Interaction) -> int | None:
        channel_id = interaction.channel_id
        return None if channel_id is None else self.router.session_for(channel_id)

    async def _allowed(
        self, interaction: discord.Interaction, session: int | None, *, admin: bool = False
    ) -> bool:
        policy = self.access()
        user = interaction.user
        roles = _roles_of(user)
        if policy is None or user.bot:
            ok = False
        elif admin:
            ok = policy.is_admin(user.id, roles)
        else:
            ok = policy.user_allowed(user.id, roles, session)
        if not ok:
            if admin and policy is not None and policy.admins.open:
                text = (
                    "🚫 Only admins (and the owners) may add sessions, and no admin is"
                    " configured (`admin_roles` or `admin_users` in the `[discord]` section"
                    " of vai.toml)."
                )
            elif admin:
                text = "🚫 Only admins (and the owners) may add sessions."
            else:
                text = "🚫 You are not allowed to use this bridge here."
            await interaction.response.send_message(
                text, ephemeral=True, allowed_mentions=post_mentions()
            )
            log.info("refused /%s to user %d", _name(interaction), user.id)
        return ok

    async def _answer(
        self, interaction: discord.Interaction, parts: list[str], *, ephemeral: bool
    ) -> None:
        for part in parts or ["(nothing to show)"]:
            await interaction.followup.send(
                part, ephemeral=ephemeral, allowed_mentions=post_mentions()
            )

    async def _run(
        self,
        interaction: discord.Interaction,
        work: Callable[[], Awaitable[list[str]]],
        *,
        ephemeral: bool,
    ) -> None:
        await interaction.response.defer(ephemeral=ephemeral, thinking=True)
        try:
            parts = await work()
        except ControlError as exc:
            parts = [f"⚠️ {exc}"]
        except Exception as exc:  # a deferred command is always answered: never "loading"
            log.exception("/%s failed", _name(interaction))
            parts = [
                f"⚠️ The bridge could not do this: {type(exc).__name__}. See `vai tail gateway`."
            ]
        try:
            await self._answer(interaction, parts, ephemeral=ephemeral)
        except discord.HTTPException as exc:
            log.warning("/%s: the answer could not be posted: %s", _name(interaction), exc)

    def _target(self, interaction: discord.Interaction, session: int | None) -> int | None:
        return session if session is not None else self._session_here(interaction)

    # -- the commands ---------------------------------------------------------------------------

    def _define(self) -> None:
        tree = self.tree

        @tree.command(name="status", description="Every session's state, as `vai status` shows it")
        @app_commands.guild_only()
        async def status(interaction: discord.Interaction) -> None:
            if not await self._allowed(interaction, self._session_here(interaction)):
                return

            async def work() -> list[str]:
                reply = await self.control.request(StatusRequest())
                if not isinstance(reply, StatusReply):
                    raise ControlError(f"unexpected answer {type(reply).__name__}")
                return render_status_message(reply)

            await self._run(interaction, work, ephemeral=True)

        @tree.command(name="sessions", description="The sessions: number, channel and state")
        @app_commands.guild_only()
        async def sessions(interaction: discord.Interaction) -> None:
            if not await self._allowed(interaction, self._session_here(interaction)):
                return

            async def work() -> list[str]:
                reply = await self.control.request(ListSessions())
                if not isinstance(reply, SessionsReply):
                    raise ControlError(f"unexpected answer {type(reply).__name__}")
                return split_for_discord(render_sessions(reply.sessions))

            await self._run(interaction, work, ephemeral=True)

        @tree.command(name="recover", description="Restart a session now (clears FATAL)")
        @app_commands.describe(session="Session number (default: this channel's session)")
        @app_commands.guild_only()
        async def recover(interaction: discord.Interaction, session: int | None = None) -> None:
            await self._session_command(interaction, session, "recover")

        @tree.command(name="interrupt", description="Interrupt Claude's current turn (Escape)")
        @app_commands.describe(session="Session number (default: this channel's session)")
        @app_commands.guild_only()
        async def interrupt(interaction: discord.Interaction, session: int | None = None) -> None:
            await self._session_command(interaction, session, "interrupt")

        @tree.command(name="add-session", description="Make this channel a new Claude session")
        @app_commands.guild_only()
        async def add_session(interaction: discord.Interaction) -> None:
            if not await self._allowed(interaction, None, admin=True):
                return
            channel_id = interaction.channel_id or 0

            async def work() -> list[str]:
                reply = await self.control.request(
                    AddSession(channel_id=channel_id), ADD_SESSION_TIMEOUT
                )
                text = reply.text if isinstance(reply, OkReply) else "done"
                return [f"✅ {text}: messages in <#{channel_id}> now go to Claude."]

            await self._run(interaction, work, ephemeral=False)

        del status, sessions, recover, interrupt, add_session
        define_session_commands(self)
        define_usage_command(self)

    async def on_interaction(self, interaction: discord.Interaction) -> bool:
        """Clicks on the commands' own buttons (/close); False if not ours."""
        return await on_close_click(self, interaction)

    async def _session_command(
        self, interaction: discord.Interaction, session: int | None, verb: str
    ) -> None:
        target = self._target(interaction, session)
        if target is None:
            await interaction.response.send_message(
                "This channel is not a session: give the session number.",
                ephemeral=True,
                allowed_mentions=post_mentions(),
            )
            return
        if not await self._allowed(interaction, target):
            return

        async def work() -> list[str]:
            request = (
                RecoverSession(session=target)
                if verb == "recover"
                else InterruptSession(session=target)
            )
            reply = await self.control.request(request, 30.0)
            text = reply.text if isinstance(reply, OkReply) else "done"
            who = interaction.user.display_name
            icon = "🔄" if verb == "recover" else ("💤" if "nothing to interrupt" in text else "⏹️")
            return [f"{icon} {text} (asked by {who})"]

        await self._run(interaction, work, ephemeral=False)


def _name(interaction: discord.Interaction) -> str:
    command = interaction.command
    return command.name if command is not None else "?"
