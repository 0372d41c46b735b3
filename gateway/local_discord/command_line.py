"""What the chat page's message box means when it starts with ``/``.

Discord's own client turns ``/name`` into an application command only when the bot registered
``name``; anything else is an ordinary message (so Claude's own slash commands such as ``/clear``
still reach Claude). Options are given as ``name:value`` or in their declared order, quoted when
they hold spaces, and are typed from the command's registration as Discord would send them.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from .store import JSON

STRING, INTEGER, BOOLEAN, USER, CHANNEL, ROLE, MENTIONABLE, NUMBER = 3, 4, 5, 6, 7, 8, 9, 10
SUBCOMMANDS = (1, 2)
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_SNOWFLAKE_TYPES = frozenset({USER, CHANNEL, ROLE, MENTIONABLE})


class CommandLineError(ValueError):
    """The text names a registered command but its options are wrong (shown to the user)."""


def find_command(text: str, commands: Sequence[JSON]) -> JSON | None:
    """The registered command ``text`` invokes, or None when it is an ordinary message."""
    if not text.startswith("/") or not text[1:2].strip():
        return None
    name = text[1:].split(maxsplit=1)[0]
    return next((c for c in commands if c.get("name") == name), None)


def _typed(option: JSON, raw: str) -> str | int | float | bool:
    kind, name = int(option.get("type", STRING)), option["name"]
    try:
        if kind == INTEGER:
            return int(raw)
        if kind == NUMBER:
            return float(raw)
    except ValueError:
        raise CommandLineError(f"{name} must be a number, not {raw!r}") from None
    if kind == BOOLEAN:
        if raw.lower() in _TRUE | _FALSE:
            return raw.lower() in _TRUE
        raise CommandLineError(f"{name} must be true or false, not {raw!r}")
    if kind in _SNOWFLAKE_TYPES:
        digits = raw.strip("<@!&#>")
        if not digits.isdigit():
            raise CommandLineError(f"{name} must be a mention or an id, not {raw!r}")
        return digits
    choices = option.get("choices") or []
    if choices and raw not in {str(c.get("value")) for c in choices}:
        allowed = ", ".join(str(c.get("value")) for c in choices)
        raise CommandLineError(f"{name} must be one of: {allowed}")
    return raw


def parse_options(command: JSON, text: str) -> list[JSON]:
    """INTERACTION_CREATE ``data.options`` for ``/name ...`` (declared order, typed)."""
    declared = [o for o in command.get("options") or [] if o.get("type") not in SUBCOMMANDS]
    by_name = {o["name"]: o for o in declared}
    rest = text[1:].split(maxsplit=1)
    try:
        tokens = shlex.split(rest[1]) if len(rest) > 1 else []
    except ValueError as exc:
        raise CommandLineError(f"cannot read the options: {exc}") from None
    values: dict[str, str] = {}
    for token in tokens:
        key, sep, value = token.partition(":")
        if sep and key in by_name:
            if key in values:
                raise CommandLineError(f"{key} is given twice")
            values[key] = value
            continue
        free = next((o for o in declared if o["name"] not in values), None)
        if free is None:
            raise CommandLineError(f"/{command['name']} takes no more options ({token!r})")
        values[free["name"]] = token
    missing = [o["name"] for o in declared if o.get("required") and o["name"] not in values]
    if missing:
        raise CommandLineError(f"/{command['name']} needs {', '.join(missing)}")
    return [
        {"name": o["name"], "type": int(o.get("type", STRING))} | {"value": _typed(o, raw)}
        for o in declared
        if (raw := values.get(o["name"])) is not None
    ]
