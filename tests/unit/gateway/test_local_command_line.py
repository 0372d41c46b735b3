"""The chat page's `/name options` line, read against the bot's registered commands."""

from __future__ import annotations

import pytest

from vai.gateway.local_discord.command_line import CommandLineError, find_command, parse_options
from vai.gateway.local_discord.store import JSON

INTERRUPT: JSON = {
    "name": "interrupt",
    "options": [{"name": "session", "type": 4, "description": "Session number"}],
}
SAY: JSON = {
    "name": "say",
    "options": [
        {"name": "text", "type": 3, "required": True},
        {"name": "loud", "type": 5},
        {"name": "who", "type": 6},
        {"name": "tone", "type": 3, "choices": [{"name": "Calm", "value": "calm"}]},
    ],
}
COMMANDS: list[JSON] = [INTERRUPT, SAY, {"name": "status"}]


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("/interrupt", "interrupt"),
        ("/interrupt 2", "interrupt"),
        ("/status", "status"),
        ("/clear", None),  # Claude's own slash command: an ordinary message
        ("/stat", None),
        ("/", None),
        ("interrupt", None),
        ("/ interrupt", None),
    ],
)
def test_only_registered_names_are_commands(text: str, name: str | None) -> None:
    found = find_command(text, COMMANDS)
    assert (found or {}).get("name") == name


def test_options_by_name_by_position_and_typed() -> None:
    assert parse_options(INTERRUPT, "/interrupt") == []
    assert parse_options(INTERRUPT, "/interrupt 2") == [{"name": "session", "type": 4, "value": 2}]
    assert parse_options(INTERRUPT, "/interrupt session:3")[0]["value"] == 3
    said = parse_options(SAY, '/say loud:yes "hello there" who:<@123> tone:calm')
    assert said == [
        {"name": "text", "type": 3, "value": "hello there"},
        {"name": "loud", "type": 5, "value": True},
        {"name": "who", "type": 6, "value": "123"},
        {"name": "tone", "type": 3, "value": "calm"},
    ]
    assert parse_options(SAY, "/say a:b")[0]["value"] == "a:b"  # not an option name


@pytest.mark.parametrize(
    ("command", "text", "error"),
    [
        (INTERRUPT, "/interrupt two", "session must be a number"),
        (INTERRUPT, "/interrupt 1 2", "takes no more options"),
        (INTERRUPT, "/interrupt session:1 session:2", "given twice"),
        (SAY, "/say", "needs text"),
        (SAY, '/say "unclosed', "cannot read"),
        (SAY, "/say x loud:maybe", "true or false"),
        (SAY, "/say x who:bob", "mention or an id"),
        (SAY, "/say x tone:angry", "one of: calm"),
    ],
)
def test_wrong_options_are_explained(command: JSON, text: str, error: str) -> None:
    with pytest.raises(CommandLineError, match=error):
        parse_options(command, text)
