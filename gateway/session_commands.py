"""App commands that change the session set from Discord: /new, /bind, /close, /threads.

Admins only (the rule of `/add-session`). The gateway only asks: the supervisor checks
the work dir against `[claude] work_dir_roots`, numbers the session and starts its
worker (supervisor/live_sessions.py), exactly as for `vai add-session`. `/new` makes the
channel first, in the invoking channel's guild and category, and deletes it again if the
session cannot be made. `/close` asks for a confirmation with buttons; the click is
handled here by custom id (`vai:close:<session>:<purge>`), checked again for an admin.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands

from vai.gateway.control import ControlError
from vai.gateway.mentions import post_mentions
from vai.protocol.messages import AddSession, OkReply, RemoveSession
from vai.protocol.session_requests import PlanSession, SetThreads
from vai.protocol.session_settings import SessionSettings

if TYPE_CHECKING:
    from vai.gateway.commands import BridgeCommands

log = logging.getLogger("gateway.commands")

ADD_SESSION_TIMEOUT = 45.0
REMOVE_SESSION_TIMEOUT = 60.0
CLOSE_PREFIX = "vai:close:"
_CLOSE_ID = re.compile(r"^vai:close:(\d{1,9}):([01])$")
_CANCEL_ID = "vai:close:cancel"


def close_custom_id(session: int, purge: bool) -> str:
    return f"{CLOSE_PREFIX}{session}:{int(purge)}"


def parse_close_id(custom_id: str) -> tuple[int, bool] | None:
    match = _CLOSE_ID.match(custom_id)
    return None if match is None else (int(match[1]), match[2] == "1")


def channel_name(requested: str | None, number: int) -> str:
    """Discord's form of a text channel name (lower case, dashes), or `claude-<n>`."""
    name = re.sub(r"[^\w-]+", "-", (requested or "").strip().lower()).strip("-")[:90]
    return name or f"claude-{number}"


def confirm_view(session: int, purge: bool) -> discord.ui.View:
    """The /close buttons, as a view discord.py does not store (clicks: on_interaction)."""
    view = discord.ui.View(timeout=None)
    label = "Close and forget everything" if purge else "Close"
    view.add_item(
        discord.ui.Button(
            label=label,
            style=discord.ButtonStyle.danger,
            custom_id=close_custom_id(session, purge),
        )
    )
    view.add_item(
        discord.ui.Button(label="Cancel", style=discord.ButtonStyle.secondary, custom_id=_CANCEL_ID)
    )
    return view


def define_session_commands(commands: BridgeCommands) -> None:
    tree = commands.tree
    control = commands.control

    @tree.command(name="new", description="A new channel with its own Claude session")
    @app_commands.describe(
        work_dir="Claude's work dir (inside the allowed roots; made if missing)",
        name="The channel's name (default: claude-<number>)",
    )
    @app_commands.guild_only()
    async def new(interaction: discord.Interaction, work_dir: str, name: str | None = None) -> None:
        if not await commands._allowed(interaction, None, admin=True):
            return

        async def work() -> list[str]:
            plan = await control.request(PlanSession(work_dir=work_dir), 15.0)
            number = plan.session if isinstance(plan, OkReply) and plan.session else 0
            guild = interaction.guild
            if guild is None:
                raise ControlError("/new works in a server's channel")
            category = getattr(interaction.channel, "category", None)
            try:
                channel = await guild.create_text_channel(
                    channel_name(name, number),
                    category=category,
                    reason=f"/new by {interaction.user} (vai session)",
                )
            except discord.Forbidden:
                raise ControlError(
                    "the bot may not create channels here: give it Manage Channels"
                ) from None
            settings = SessionSettings(channel_id=channel.id, name=channel.name, work_dir=work_dir)
            try:
                reply = await control.request(
                    AddSession(channel_id=channel.id, settings=settings, confined=True),
                    ADD_SESSION_TIMEOUT,
                )
            except ControlError:
                try:
                    await channel.delete(reason="the session could not be made")
                except discord.HTTPException as exc:
                    log.warning("/new: channel %d could not be deleted: %s", channel.id, exc)
                raise
            text = reply.text if isinstance(reply, OkReply) else "done"
            where = plan.text if isinstance(plan, OkReply) else work_dir
            return [f"✅ {text}: <#{channel.id}> is ready, Claude works in `{where}`."]

        await commands._run(interaction, work, ephemeral=False)

    @tree.command(name="bind", description="Make this channel a Claude session")
    @app_commands.describe(work_dir="Claude's work dir (inside the allowed roots; made if missing)")
    @app_commands.guild_only()
    async def bind(interaction: discord.Interaction, work_dir: str | None = None) -> None:
        if not await commands._allowed(interaction, None, admin=True):
            return
        channel_id = interaction.channel_id or 0
        taken = commands.router.own_session(channel_id)
        if taken is not None:
            await interaction.response.send_message(
                f"This channel is already session {taken}.",
                ephemeral=True,
                allowed_mentions=post_mentions(),
            )
            return

        async def work() -> list[str]:
            name = str(getattr(interaction.channel, "name", "") or "")
            settings = SessionSettings(channel_id=channel_id, name=name, work_dir=work_dir or "")
            reply = await control.request(
                AddSession(channel_id=channel_id, settings=settings, confined=True),
                ADD_SESSION_TIMEOUT,
            )
            text = reply.text if isinstance(reply, OkReply) else "done"
            return [f"✅ {text}: messages in <#{channel_id}> now go to Claude."]

        await commands._run(interaction, work, ephemeral=False)

    @tree.command(name="close", description="End this channel's session (asks to confirm)")
    @app_commands.describe(purge="Also forget its attachments and log (default: keep them)")
    @app_commands.guild_only()
    async def close(interaction: discord.Interaction, purge: bool = False) -> None:
        if not await commands._allowed(interaction, None, admin=True):
            return
        session = commands.router.own_session(interaction.channel_id or 0)
        if session is None:
            await interaction.response.send_message(
                "This channel is not a session.", ephemeral=True, allowed_mentions=post_mentions()
            )
            return
        forget = " and forget its attachments and log" if purge else " (its log is kept)"
        await interaction.response.send_message(
            f"Close session {session}? Claude stops here, and in this channel's thread"
            f" sessions{forget}.",
            view=confirm_view(session, purge),
            allowed_mentions=post_mentions(),
        )

    @tree.command(name="threads", description="Whether new threads here get their own session")
    @app_commands.describe(state="on: each new thread in this channel gets a Claude session")
    @app_commands.choices(
        state=[
            app_commands.Choice(name="on", value="on"),
            app_commands.Choice(name="off", value="off"),
        ]
    )
    @app_commands.guild_only()
    async def threads(interaction: discord.Interaction, state: str) -> None:
        if not await commands._allowed(interaction, None, admin=True):
            return
        session = commands.router.own_session(interaction.channel_id or 0)
        if session is None:
            await interaction.response.send_message(
                "This channel is not a session.", ephemeral=True, allowed_mentions=post_mentions()
            )
            return

        async def work() -> list[str]:
            reply = await control.request(SetThreads(session=session, enabled=state == "on"))
            text = reply.text if isinstance(reply, OkReply) else "done"
            return [f"🧵 {text}."]

        await commands._run(interaction, work, ephemeral=False)

    del new, bind, close, threads


async def on_close_click(commands: BridgeCommands, interaction: discord.Interaction) -> bool:
    """A click on a /close button; False if it is not one."""
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id = str(data.get("custom_id", ""))
    if interaction.type is not discord.InteractionType.component or not custom_id.startswith(
        CLOSE_PREFIX
    ):
        return False
    if not await commands._allowed(interaction, None, admin=True):
        return True
    who = interaction.user.display_name
    if custom_id == _CANCEL_ID:
        await interaction.response.edit_message(content=f"Not closed ({who} cancelled).", view=None)
        return True
    parsed = parse_close_id(custom_id)
    if parsed is None or commands.router.own_session(interaction.channel_id or 0) != parsed[0]:
        await interaction.response.edit_message(
            content="This session is already closed.", view=None
        )
        return True
    session, purge = parsed
    await interaction.response.edit_message(content=f"Closing session {session}…", view=None)
    try:
        reply = await commands.control.request(
            RemoveSession(session=session, purge=purge), REMOVE_SESSION_TIMEOUT
        )
        text = f"✅ {reply.text if isinstance(reply, OkReply) else 'done'} (closed by {who})"
    except ControlError as exc:
        text = f"⚠️ {exc}"
    try:
        await interaction.edit_original_response(content=text, view=None)
    except discord.HTTPException as exc:
        log.warning("/close: the answer could not be posted: %s", exc)
    return True
