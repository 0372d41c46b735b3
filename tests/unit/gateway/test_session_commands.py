"""The session commands as registered: what the demo page's command line sends for them,
and the small rules of gateway/session_commands.py."""

from __future__ import annotations

from typing import Any

import discord
import zmq.asyncio

from vai.gateway.commands import BridgeCommands
from vai.gateway.control import ControlClient
from vai.gateway.local_discord.command_line import find_command, parse_options
from vai.gateway.routing import Router
from vai.gateway.session_commands import channel_name, close_custom_id, parse_close_id
from vai.protocol.layout import Layout


def registered() -> list[dict[str, Any]]:
    client = discord.Client(intents=discord.Intents.none())
    context = zmq.asyncio.Context()
    try:
        control = ControlClient(Layout("/nonexistent"), context)

        async def problem(text: str) -> None:
            del text

        commands = BridgeCommands(client, control, Router(), lambda: None, problem)
        return [dict(c.to_dict(commands.tree)) for c in commands.tree.get_commands()]
    finally:
        context.term()


def options(text: str) -> dict[str, Any]:
    command = find_command(text, registered())
    assert command is not None, text
    return {o["name"]: o["value"] for o in parse_options(command, text)}


def test_the_page_runs_the_session_commands_with_their_options() -> None:
    names = {c["name"] for c in registered()}
    assert {"new", "bind", "close", "threads"} <= names
    assert options('/new work_dir:projects/app name:"My App"') == {
        "work_dir": "projects/app",
        "name": "My App",
    }
    assert options("/bind") == {}
    assert options("/close purge:true") == {"purge": True}
    assert options("/threads state:on") == {"state": "on"}


def test_channel_names_and_close_buttons() -> None:
    assert channel_name("My App!", 3) == "my-app"
    assert channel_name(None, 3) == channel_name("  ", 3) == "claude-3"
    assert parse_close_id(close_custom_id(12, True)) == (12, True)
    assert parse_close_id(close_custom_id(2, False)) == (2, False)
    assert parse_close_id("vai:close:cancel") is None
    assert parse_close_id("vai:close:2:1:x") is None
