"""`/usage`: the token use (and cost, where the CLI reports it) of this channel's session;
`/usage scope:all` shows every session's, for admins only.

The figures are the supervisor's (`vai status --usage` shows the same), asked for through
the control API like /status.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands

from vai.common.usage_view import usage_lines
from vai.gateway.control import ControlError
from vai.gateway.mentions import post_mentions
from vai.protocol.messages import StatusReply, StatusRequest
from vai.protocol.text import split_for_discord

if TYPE_CHECKING:
    from vai.gateway.commands import BridgeCommands

NOT_A_SESSION = "This channel is not a session: an admin can ask for `/usage scope:all`."
ADMINS_ONLY = "🚫 Only admins (and the owners) may see every session's usage."


def define_usage_command(commands: BridgeCommands) -> None:
    @commands.tree.command(name="usage", description="Tokens (and cost) this session used")
    @app_commands.describe(scope="here (this channel's session) or all (admins)")
    @app_commands.guild_only()
    async def usage(
        interaction: discord.Interaction, scope: Literal["here", "all"] = "here"
    ) -> None:
        here = commands._session_here(interaction)
        if scope == "all":
            policy = commands.access()
            user = interaction.user
            roles = tuple(role.id for role in getattr(user, "roles", ()))
            if policy is None or user.bot or not policy.is_admin(user.id, roles):
                await interaction.response.send_message(
                    ADMINS_ONLY, ephemeral=True, allowed_mentions=post_mentions()
                )
                return
        elif here is None:
            await interaction.response.send_message(
                NOT_A_SESSION, ephemeral=True, allowed_mentions=post_mentions()
            )
            return
        elif not await commands._allowed(interaction, here):
            return

        async def work() -> list[str]:
            reply = await commands.control.request(StatusRequest())
            if not isinstance(reply, StatusReply):
                raise ControlError(f"unexpected answer {type(reply).__name__}")
            sessions = [s for s in reply.sessions if scope == "all" or s.session == here]
            return split_for_discord("📊 " + "\n".join(usage_lines(sessions)))

        await commands._run(interaction, work, ephemeral=True)

    del usage
