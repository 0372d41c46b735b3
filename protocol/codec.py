"""The one encoder and decoder for wire messages (msgpack), with typed errors.

A malformed or foreign frame raises `ProtocolError`; callers log it and drop the frame,
so no peer can crash another by sending garbage. Text that UTF-8 cannot encode (a lone
surrogate from JSON or from argv) is sent with U+FFFD in its place rather than raising, so
no message can crash its sender either: the boundaries that take text in replace and log
it first (gateway.inbound); this is the net under them.
"""

from __future__ import annotations

from typing import TypeVar

import msgspec

from vai.protocol.messages import PROTOCOL_VERSION, WireMessage
from vai.protocol.text import well_formed_data


class ProtocolError(ValueError):
    """A frame that is not a valid message of this protocol version."""


_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[WireMessage] = msgspec.msgpack.Decoder(WireMessage)

MAX_FRAME_BYTES = 16 * 1024 * 1024
M = TypeVar("M")


def encode(message: WireMessage) -> bytes:
    try:
        return _encoder.encode(message)
    except UnicodeEncodeError:
        return _encoder.encode(encodable(message))


S = TypeVar("S", bound=msgspec.Struct)


def encodable(message: S) -> S:
    """`message` with U+FFFD for every code point UTF-8 cannot encode, in every string."""
    return msgspec.convert(well_formed_data(msgspec.to_builtins(message)), type(message))


def decode_frame(decoder: msgspec.msgpack.Decoder[M], frame: bytes, what: str) -> M:
    """`frame` decoded by `decoder`; ProtocolError if it is garbage, too big or foreign."""
    if len(frame) > MAX_FRAME_BYTES:
        raise ProtocolError(f"frame of {len(frame)} bytes exceeds {MAX_FRAME_BYTES}")
    try:
        message = decoder.decode(frame)
    except msgspec.DecodeError as exc:  # ValidationError is a subclass
        raise ProtocolError(f"not a {what} message: {exc}") from None
    version = getattr(message, "v", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION:
        raise ProtocolError(
            f"protocol version {version} is not supported (this is {PROTOCOL_VERSION})"
        )
    return message


def decode(frame: bytes) -> WireMessage:
    """Any message of the protocol (links decode only what their sender may send)."""
    return decode_frame(_decoder, frame, "bridge")
