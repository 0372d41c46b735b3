"""ZeroMQ framing helpers: one encoded message per frame, routed by peer identity.

Only framing lives here; sockets are created and owned by each process's transport.
"""

from __future__ import annotations

import zmq
import zmq.asyncio

from vai.protocol.codec import ProtocolError, decode, encode
from vai.protocol.messages import WireMessage


def worker_identity(session: int) -> bytes:
    return f"session-{session}".encode()


GATEWAY_IDENTITY = b"gateway"


def session_from_identity(identity: bytes) -> int | None:
    text = identity.decode("ascii", "replace")
    if text.startswith("session-") and text[8:].isdigit():
        return int(text[8:])
    return None


async def send_to(socket: zmq.asyncio.Socket, identity: bytes, message: WireMessage) -> None:
    """ROUTER side; raises zmq.ZMQError (EHOSTUNREACH) when the peer is not connected."""
    await socket.send_multipart([identity, encode(message)])


async def send(socket: zmq.asyncio.Socket, message: WireMessage) -> None:
    """DEALER side."""
    await socket.send(encode(message))


def parse_routed(frames: list[bytes]) -> tuple[bytes, WireMessage]:
    """A ROUTER's received frames: the peer identity, then one message."""
    if len(frames) != 2:
        raise ProtocolError(f"expected 2 frames (identity, message), got {len(frames)}")
    return frames[0], decode(frames[1])


def parse_single(frames: list[bytes]) -> WireMessage:
    if len(frames) != 1:
        raise ProtocolError(f"expected 1 frame, got {len(frames)}")
    return decode(frames[0])


def router_socket(context: zmq.asyncio.Context, endpoint: str) -> zmq.asyncio.Socket:
    """A ROUTER that errors on unroutable sends and lets a restarted peer take its name."""
    socket = context.socket(zmq.ROUTER)
    socket.setsockopt(zmq.ROUTER_MANDATORY, 1)
    socket.setsockopt(zmq.ROUTER_HANDOVER, 1)
    socket.setsockopt(zmq.LINGER, 0)
    socket.bind(endpoint)
    return socket


def dealer_socket(
    context: zmq.asyncio.Context, endpoint: str, identity: bytes | None = None
) -> zmq.asyncio.Socket:
    socket = context.socket(zmq.DEALER)
    if identity is not None:
        socket.setsockopt(zmq.IDENTITY, identity)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.RECONNECT_IVL, 50)
    socket.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
    socket.connect(endpoint)
    return socket
