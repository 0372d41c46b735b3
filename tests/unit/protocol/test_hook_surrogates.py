"""Hook payloads from Claude Code: a Stop carrying half of a surrogate pair is not lost."""

from __future__ import annotations

import msgspec
import pytest

from vai.protocol.codec import decode, encode
from vai.protocol.hooks import Stop, decode_hook
from vai.protocol.messages import TurnEnded


def test_a_stop_whose_text_has_a_lone_surrogate_escape_is_read_with_a_replacement() -> None:
    # Node's JSON.stringify writes a lone surrogate as an escape (an emoji cut in half).
    payload = b'{"hook_event_name": "Stop", "last_assistant_message": "cut \\ud83d here"}'
    event = decode_hook(payload)
    assert isinstance(event, Stop)
    assert event.last_assistant_message == "cut \ufffd here"


def test_a_well_formed_pair_escape_stays_one_character() -> None:
    payload = b'{"hook_event_name": "Stop", "last_assistant_message": "\\ud83d\\ude00"}'
    event = decode_hook(payload)
    assert isinstance(event, Stop) and event.last_assistant_message == "😀"


@pytest.mark.parametrize(
    "payload", [b"not json", b'{"no_event": 1}', b'{"hook_event_name": "\\udfff", "cwd": 5}']
)
def test_garbage_is_still_refused(payload: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_hook(payload)


def test_an_answer_read_from_the_transcript_with_a_lone_surrogate_reaches_the_bus() -> None:
    turn = TurnEnded(session=1, turn_id="t", text="answer \udfff", message_ids=[1])
    back = decode(encode(turn))
    assert isinstance(back, TurnEnded) and back.text == "answer \ufffd"
