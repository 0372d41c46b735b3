"""Which numbers the bridge takes as ids: pure rules, one place.

Discord ids (snowflakes) are unsigned 64-bit, but SQLite stores signed 64-bit integers, so
the bridge takes ids up to 2**63 - 1 everywhere (the CLI, the control API, sessions.json),
which Discord's ids will not reach for centuries; anything larger is refused at the door
rather than half-stored. Only ASCII digits count: `str.isdigit()` also takes "²" (which
`int()` then refuses) and digits of other scripts (which `int()` takes).
"""

from __future__ import annotations

MAX_ID = 2**63 - 1


def ascii_number(text: str) -> int | None:
    """`text` as a whole number if it is only ASCII digits, else None."""
    if text.isascii() and text.isdigit():
        return int(text)
    return None


def valid_id(number: int) -> bool:
    """A session number or Discord id the bridge can store: 1 .. MAX_ID."""
    return 0 < number <= MAX_ID


def parse_id(text: str) -> int | None:
    """`text` as an id (ASCII digits, 1 .. MAX_ID), else None."""
    number = ascii_number(text.strip())
    return number if number is not None and valid_id(number) else None


def id_problem(text: str, what: str) -> str:
    """Why `text` is not a `what` (a session number, a channel id), for one clear line."""
    stripped = text.strip()
    if stripped.isdigit() and not stripped.isascii():
        return f"{text!r} is not a {what}: use the digits 0-9"
    number = ascii_number(stripped)
    if number is not None and number > MAX_ID:
        return f"{text!r} is not a {what}: it is larger than {MAX_ID} (2**63 - 1)"
    return f"{text!r} is not a {what}"
