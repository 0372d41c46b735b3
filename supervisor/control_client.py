"""The CLI side of the control API: one request, one reply, with a timeout (Lazy Pirate).

A supervisor that is down or hung gives `SupervisorUnreachable`, never a hang.
"""

from __future__ import annotations

import zmq

from vai.common.errors import BridgeError
from vai.protocol.codec import ProtocolError, encode
from vai.protocol.layout import Layout, ipc_endpoint
from vai.protocol.links import CONTROL_REPLY, ControlReply, ControlRequest


class SupervisorUnreachable(BridgeError):
    pass


def request(layout: Layout, message: ControlRequest, timeout: float = 5.0) -> ControlReply:
    path = layout.control_socket
    if not path.exists():
        raise SupervisorUnreachable(f"the supervisor is not running (no {path})")
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    try:
        socket.connect(ipc_endpoint(path))
        socket.send(encode(message))
        if not socket.poll(int(timeout * 1000)):
            raise SupervisorUnreachable(
                f"the supervisor did not answer within {timeout:.0f}s ({path})"
            )
        try:
            return CONTROL_REPLY.decode(socket.recv())
        except ProtocolError as exc:
            raise BridgeError(f"unreadable answer from the supervisor: {exc}") from None
    finally:
        socket.close(linger=0)
