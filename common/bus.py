"""The ZeroMQ bus sockets and their send helpers, shared by every process.

protocol/framing.py says what a frame holds; this module opens the sockets and moves the
frames. One ROUTER per listening side (the supervisor), one DEALER per peer. The bus is
CURVE-encrypted and every peer authenticated (common/bus_auth.py): the ROUTER is secured
by its gate, each DEALER connects with the keys it was handed.
"""

from __future__ import annotations

import zmq
import zmq.asyncio

from vai.common.bus_auth import BusGate, ClientKeys, secure_client
from vai.protocol.codec import encode
from vai.protocol.messages import WireMessage


async def send_to(socket: zmq.asyncio.Socket, identity: bytes, message: WireMessage) -> None:
    """ROUTER side; raises zmq.ZMQError (EHOSTUNREACH) when the peer is not connected."""
    await socket.send_multipart([identity, encode(message)])


async def send(socket: zmq.asyncio.Socket, message: WireMessage) -> None:
    """DEALER side."""
    await socket.send(encode(message))


def router_socket(
    context: zmq.asyncio.Context, endpoint: str, gate: BusGate | None = None
) -> zmq.asyncio.Socket:
    """A ROUTER that errors on unroutable sends and lets a restarted peer take its name;
    with a gate, only the peers it admits get through the handshake."""
    socket = context.socket(zmq.ROUTER)
    socket.setsockopt(zmq.ROUTER_MANDATORY, 1)
    socket.setsockopt(zmq.ROUTER_HANDOVER, 1)
    socket.setsockopt(zmq.LINGER, 0)
    if gate is not None:
        gate.secure(socket)
    socket.bind(endpoint)
    return socket


def dealer_socket(
    context: zmq.asyncio.Context, endpoint: str, keys: ClientKeys
) -> zmq.asyncio.Socket:
    """A DEALER that joins the bus with `keys` (its routing identity included)."""
    socket = context.socket(zmq.DEALER)
    secure_client(socket, keys)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.RECONNECT_IVL, 50)
    socket.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
    socket.connect(endpoint)
    return socket
