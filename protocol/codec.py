"""The one encoder and decoder for wire messages (msgpack), with typed errors.

A malformed or foreign frame raises `ProtocolError`; callers log it and drop the frame,
so no peer can crash another by sending garbage.
"""

from __future__ import annotations

import msgspec

from vai.protocol.messages import PROTOCOL_VERSION, WireMessage


class ProtocolError(ValueError):
    """A frame that is not a valid message of this protocol version."""


_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[WireMessage] = msgspec.msgpack.Decoder(WireMessage)

MAX_FRAME_BYTES = 16 * 1024 * 1024


def encode(message: WireMessage) -> bytes:
    return _encoder.encode(message)


def decode(frame: bytes) -> WireMessage:
    if len(frame) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {len(frame)} bytes exceeds {MAX_FRAME_BYTES}")
    try:
        message = _decoder.decode(frame)
    except msgspec.DecodeError as exc:  # ValidationError is a subclass
        raise ProtocolError(f"undecodable frame: {exc}") from None
    if message.v != PROTOCOL_VERSION:
        raise ProtocolError(
            f"protocol version {message.v} is not supported (this is {PROTOCOL_VERSION})"
        )
    return message
