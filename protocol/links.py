"""Which messages may travel on which link, each link with its own decoder.

A frame is decoded against the union of what its sender may send, so a message that does
not belong on a link (a worker sending `Inbound`, the gateway sending `TurnEnded`) is
refused at the boundary as malformed, and every receiver can `match` exhaustively.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

from vai.protocol.codec import decode_frame
from vai.protocol.messages import (
    AddSession,
    ChoiceAnswer,
    ChoiceRequest,
    ChoiceWithdrawn,
    ClaudeStatus,
    Deliver,
    DeliveryUpdate,
    ErrorReply,
    GatewayHello,
    GatewayProblem,
    Heartbeat,
    Inbound,
    InboundAck,
    Interrupt,
    InterruptResult,
    InterruptSession,
    ListSessions,
    MoveSession,
    OkReply,
    PanePost,
    PostMessage,
    PostReply,
    PromptProgress,
    RecoverSession,
    ReloadConfig,
    RemoveSession,
    ReplyPosted,
    RestartSessions,
    SessionMap,
    SessionsReply,
    SettingsUpdate,
    Shutdown,
    StartSession,
    StatusReply,
    StatusRequest,
    StopAll,
    StopSession,
    ToolProgress,
    TurnAck,
    TurnEnded,
    Typing,
    WorkerHello,
)
from vai.protocol.session_requests import SessionRequest

GatewayToSupervisor = (
    GatewayHello | Inbound | GatewayProblem | ReplyPosted | ChoiceAnswer | Heartbeat
)
SupervisorToGateway = (
    SessionMap
    | InboundAck
    | PromptProgress
    | Typing
    | PostReply
    | ChoiceRequest
    | ChoiceWithdrawn
    | ToolProgress
    | SettingsUpdate
    | Heartbeat
)
WorkerToSupervisor = (
    WorkerHello
    | DeliveryUpdate
    | TurnEnded
    | ClaudeStatus
    | ChoiceRequest
    | ChoiceWithdrawn
    | ToolProgress
    | PanePost
    | InterruptResult
    | Heartbeat
)
SupervisorToWorker = Deliver | TurnAck | Interrupt | ChoiceAnswer | Shutdown | Heartbeat
ControlRequest = (
    StatusRequest
    | ListSessions
    | AddSession
    | RemoveSession
    | RecoverSession
    | InterruptSession
    | RestartSessions
    | StopSession
    | StartSession
    | ReloadConfig
    | StopAll
    | PostMessage
    | MoveSession
    | SessionRequest
)
ControlReply = StatusReply | SessionsReply | OkReply | ErrorReply

M = TypeVar("M")


class Link(Generic[M]):
    """One direction of one connection: the messages it carries and their decoder."""

    def __init__(self, name: str, union: Any) -> None:
        self.name = name
        self._decoder: msgspec.msgpack.Decoder[M] = msgspec.msgpack.Decoder(union)

    def decode(self, frame: bytes) -> M:
        """The message in `frame`; ProtocolError if it is garbage or not of this link."""
        return decode_frame(self._decoder, frame, self.name)

    def __repr__(self) -> str:
        return f"Link({self.name})"


FROM_GATEWAY: Link[GatewayToSupervisor] = Link("gateway → supervisor", GatewayToSupervisor)
TO_GATEWAY: Link[SupervisorToGateway] = Link("supervisor → gateway", SupervisorToGateway)
FROM_WORKER: Link[WorkerToSupervisor] = Link("worker → supervisor", WorkerToSupervisor)
TO_WORKER: Link[SupervisorToWorker] = Link("supervisor → worker", SupervisorToWorker)
CONTROL_REQUEST: Link[ControlRequest] = Link("control request", ControlRequest)
CONTROL_REPLY: Link[ControlReply] = Link("control reply", ControlReply)
