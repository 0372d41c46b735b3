"""Which numbers are ids: ASCII digits only, 1 .. 2**63 - 1."""

from __future__ import annotations

import pytest

from vai.protocol.framing import session_from_identity
from vai.protocol.ids import MAX_ID, ascii_number, id_problem, parse_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        (" 42 ", 42),
        (str(MAX_ID), MAX_ID),
        (str(MAX_ID + 1), None),
        ("0", None),
        ("-1", None),
        ("²", None),  # isdigit() says yes, int() says no
        ("٣", None),  # isdigit() and int() both say yes
        ("1e3", None),
        ("", None),
        ("\udfff", None),
    ],
)
def test_parse_id(text: str, expected: int | None) -> None:
    assert parse_id(text) == expected


def test_ascii_number_takes_any_size_but_only_ascii_digits() -> None:
    assert ascii_number("9" * 30) == int("9" * 30)
    assert ascii_number("１") is None


def test_problems_say_what_is_wrong() -> None:
    assert "digits 0-9" in id_problem("²", "session number")
    assert "larger than" in id_problem(str(2**64), "channel id")
    assert id_problem("x", "channel id") == "'x' is not a channel id"


def test_a_worker_identity_with_other_digits_is_no_session() -> None:
    assert session_from_identity(b"session-3") == 3
    assert session_from_identity("session-²".encode()) is None
    assert session_from_identity(f"session-{2**64}".encode()) is None
