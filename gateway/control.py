"""The gateway's client of the supervisor's control API (the one `vai` uses), for commands.

One DEALER per request, so a reply can never be mistaken for another request's; a
supervisor that does not answer in time is an error with a clear text, never a hang.
"""

from __future__ import annotations

import zmq
import zmq.asyncio

from vai.protocol.codec import ProtocolError, encode
from vai.protocol.layout import Layout, ipc_endpoint
from vai.protocol.links import CONTROL_REPLY, ControlReply, ControlRequest
from vai.protocol.messages import ErrorReply


class ControlError(Exception):
    """The request could not be answered; the text is for the person who asked."""


class ControlClient:
    def __init__(self, layout: Layout, context: zmq.asyncio.Context) -> None:
        self.layout = layout
        self.context = context

    async def request(self, message: ControlRequest, timeout: float = 5.0) -> ControlReply:
        path = self.layout.control_socket
        if not path.exists():
            raise ControlError("the supervisor is not running")
        socket = self.context.socket(zmq.DEALER)
        socket.setsockopt(zmq.LINGER, 0)
        try:
            socket.connect(ipc_endpoint(path))
            await socket.send(encode(message))
            if not await socket.poll(int(timeout * 1000)):
                raise ControlError(f"the supervisor did not answer within {timeout:.0f}s")
            try:
                reply = CONTROL_REPLY.decode(await socket.recv())
            except ProtocolError as exc:
                raise ControlError(f"unreadable answer from the supervisor: {exc}") from None
        finally:
            socket.close(linger=0)
        if isinstance(reply, ErrorReply):
            raise ControlError(reply.text)
        return reply
