"""What a bus frame holds: peer identities and one encoded message per frame. Pure.

Sockets are opened and frames sent by common/bus.py; this module only names the peers and
turns received frames into messages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from vai.protocol.codec import ProtocolError
from vai.protocol.ids import parse_id
from vai.protocol.links import Link

M = TypeVar("M")
F = TypeVar("F")

GATEWAY_IDENTITY = b"gateway"


def worker_identity(session: int) -> bytes:
    return f"session-{session}".encode()


def session_from_identity(identity: bytes) -> int | None:
    text = identity.decode("ascii", "replace")
    return parse_id(text[8:]) if text.startswith("session-") else None


def routed_frame(frames: Sequence[F]) -> tuple[F, F]:
    """A ROUTER's received frames (bytes, or zmq Frames): the peer identity, then one
    encoded message."""
    if len(frames) != 2:
        raise ProtocolError(f"expected 2 frames (identity, message), got {len(frames)}")
    return frames[0], frames[1]


def parse_routed(frames: list[bytes], link: Link[M]) -> tuple[bytes, M]:
    identity, frame = routed_frame(frames)
    return identity, link.decode(frame)


def parse_single(frames: list[bytes], link: Link[M]) -> M:
    """A DEALER's received frames: one message of `link`."""
    if len(frames) != 1:
        raise ProtocolError(f"expected 1 frame, got {len(frames)}")
    return link.decode(frames[0])
