"""Every message that crosses a process boundary, as one tagged union of msgspec Structs.

Schema evolution rules (msgspec's): new fields get defaults, a tag is never reused, and
the `v` field carries the protocol's major version so a peer from another release is
refused with a clear error rather than misread.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from vai.protocol.control_messages import (
    AddSession,
    ErrorReply,
    InterruptSession,
    ListSessions,
    MoveSession,
    OkReply,
    PostMessage,
    RecoverSession,
    ReloadConfig,
    RemoveSession,
    RestartSessions,
    SessionsReply,
    StartSession,
    StatusReply,
    StatusRequest,
    StopAll,
    StopSession,
)
from vai.protocol.message_base import (
    PROTOCOL_VERSION,
    AttachmentRef,
    Author,
    ChatMessage,
    ClaudeState,
    Message,
    ProcessState,
    PromptStage,
    Route,
)
from vai.protocol.session_info import SessionInfo
from vai.protocol.session_requests import SessionRequest
from vai.protocol.specs import GatewaySettings
from vai.protocol.usage import TurnUsage

# Re-exported: every message and the data they carry come from here.
__all__ = [
    "PROTOCOL_VERSION",
    "AddSession",
    "AttachmentRef",
    "Author",
    "ChatMessage",
    "ClaudeState",
    "ErrorReply",
    "InterruptSession",
    "ListSessions",
    "Message",
    "MoveSession",
    "OkReply",
    "PostMessage",
    "ProcessState",
    "PromptStage",
    "RecoverSession",
    "ReloadConfig",
    "RemoveSession",
    "RestartSessions",
    "Route",
    "SessionInfo",
    "SessionsReply",
    "StartSession",
    "StatusReply",
    "StatusRequest",
    "StopAll",
    "StopSession",
]

# --- gateway <-> supervisor ---------------------------------------------------------------


class GatewayHello(Message, tag="gateway_hello"):
    pid: int
    local_url: str = ""  # set when the gateway runs the embedded local Discord


class SessionMap(Message, tag="session_map"):
    """Which channel belongs to which session; sent to the gateway on hello and on change."""

    routes: list[Route]
    default_session: int | None = None
    route_unmapped: bool = False


class Inbound(Message, tag="inbound"):
    """A Discord message for a session; `seq` lets the gateway match the acknowledgement."""

    seq: int
    session: int
    message: ChatMessage


class InboundAck(Message, tag="inbound_ack"):
    seq: int
    message_id: int
    duplicate: bool = False


class PromptProgress(Message, tag="prompt_progress"):
    """Where a user's message is, so the gateway can show it (reactions, failure replies).
    `turn_failed`: Claude took it but its turn failed; the turn's own post says why."""

    channel_id: int
    message_id: int
    stage: PromptStage
    detail: str = ""
    turn_failed: bool = False


class Typing(Message, tag="typing"):
    channel_id: int
    active: bool


class PostReply(Message, tag="post_reply"):
    """Text (or a file) to post; `reply_id` is stable so a repost can be deduplicated."""

    reply_id: str
    channel_id: int
    text: str = ""
    file_path: str = ""
    reference_message_id: int | None = None
    # Set when this is a turn's answer: the gateway closes that turn's progress message.
    turn_id: str = ""
    # The turn's token use, for the optional footer (`[discord] usage_footer`).
    usage: TurnUsage | None = None


class GatewayProblem(Message, tag="gateway_problem"):
    """Something only the operator can fix, found by the gateway; `vai status` shows it.

    `fatal`: the gateway cannot work at all (bad token, Message Content intent off) and
    exits with EXIT_CONFIG; otherwise it concerns one channel (a negative `channel_id`
    names a gateway-wide topic instead), and an empty `text` says the problem is gone.
    """

    text: str
    channel_id: int = 0
    fatal: bool = False


class SettingsUpdate(Message, tag="gateway_settings"):
    """vai.toml was reloaded: the gateway's settings from now on (allow lists, limits)."""

    settings: GatewaySettings


class ReplyPosted(Message, tag="reply_posted"):
    reply_id: str
    ok: bool = True
    error: str = ""


# --- supervisor <-> worker ----------------------------------------------------------------


class WorkerHello(Message, tag="worker_hello"):
    """A worker announces itself; `ready` means its Claude pane is up and idle."""

    session: int
    pid: int
    ready: bool
    claude_state: ClaudeState = "unknown"


class Deliver(Message, tag="deliver"):
    """One inbound message for the worker to type into Claude."""

    message: ChatMessage


class DeliveryUpdate(Message, tag="delivery_update"):
    session: int
    message_id: int
    stage: PromptStage
    detail: str = ""


class TurnEnded(Message, tag="turn_ended"):
    """Claude finished a turn (Stop hook); its final text goes back to the channel.

    `interrupted` marks a turn that Claude took (its transcript holds the prompt) but never
    answered because it died; the messages are done and the channel is told. `failure`:
    the turn ended on an API error (StopFailure), why in the CLI's words; its messages
    failed. `origin`: the prompt was not typed in the composer (another session's
    message, Claude's own), where it came from; such a turn names no message.
    The worker resends this until the supervisor's `TurnAck`.
    """

    session: int
    turn_id: str
    text: str
    message_ids: list[int] = msgspec.field(default_factory=list)
    interrupted: bool = False
    failure: str = ""
    origin: str = ""
    usage: TurnUsage | None = None  # read from Claude's transcript when it has the numbers


class TurnAck(Message, tag="turn_ack"):
    turn_id: str


class ClaudeStatus(Message, tag="claude_status"):
    session: int
    state: ClaudeState
    pane_pid: int | None = None
    conversation_id: str = ""


class Heartbeat(Message, tag="heartbeat"):
    pid: int


class ChoiceRequest(Message, tag="choice_request"):
    """A decision for the channel, shown as buttons: a permission prompt or Claude's question.

    The worker sends it (channel_id 0); the supervisor fills in the session's channel and
    forwards it to the gateway, which posts it with one button per option (a menu allowing
    several when `multi_select`, plus an "Other…" button for free text when `other`).
    `mention_user_id` is the person it waits for (the author of the message whose turn
    asks); the supervisor keeps it only if that is the author of one of the session's
    open messages, and the gateway pings only them (0: nobody).
    """

    request_id: str
    session: int
    kind: Literal["permission", "question"]
    text: str
    options: list[str]
    channel_id: int = 0
    timeout_s: float = 300.0
    multi_select: bool = False
    other: bool = False
    mention_user_id: int = 0


class ChoiceWithdrawn(Message, tag="choice_withdrawn"):
    """A choice the worker no longer asks (its turn ended, was interrupted, Claude exited,
    or a dead worker's question was not on the screen again): the gateway closes its
    buttons and reminds nobody. The supervisor passes it on only for an open request of
    the sender's session, addressed to that request's channel."""

    request_id: str
    session: int
    channel_id: int = 0
    reason: str = ""


class ChoiceAnswer(Message, tag="choice_answer"):
    """The option an allowed user clicked; `option` is empty when the request expired.

    A multi-select answer lists every option picked in `options` (`option` is the first);
    a free-text answer ("Other…") is in `text`, with `option` empty.
    """

    request_id: str
    session: int
    option: str
    user_id: int = 0
    user_name: str = ""
    options: list[str] = msgspec.field(default_factory=list)
    text: str = ""

    @property
    def answered(self) -> bool:
        return bool(self.option or self.options or self.text)


class ToolProgress(Message, tag="tool_progress"):
    """What Claude is doing in a turn (PreToolUse/PostToolUse), for the channel to show."""

    session: int
    turn_id: str
    tool_name: str
    summary: str
    channel_id: int = 0
    done: bool = False


# `dp` in session N's pane, let in by its worker: a post to that session's own channel.
class PanePost(Message, tag="pane_post"):
    session: int  # the supervisor takes the channel from its own map, never from a pane
    post_id: str
    text: str = ""
    file_path: str = ""  # a copy the worker made, private to the bridge


class Interrupt(Message, tag="interrupt"):
    """Ask the worker to interrupt Claude's current turn (Escape); with a `request_id` the
    worker says how it went (InterruptResult)."""

    request_id: str = ""


InterruptOutcome = Literal["stopped", "nothing", "gave_up", "dead"]


class InterruptResult(Message, tag="interrupt_result"):
    """How an interrupt went: Claude stopped, was idle (nothing to interrupt), did not stop,
    or is not running."""

    session: int
    request_id: str
    outcome: InterruptOutcome


class Shutdown(Message, tag="shutdown"):
    """Ask a worker to exit; `stop_claude` also ends its pane (remove-session, vai stop)."""

    stop_claude: bool = False


WireMessage = (
    GatewayHello
    | SessionMap
    | Inbound
    | InboundAck
    | PromptProgress
    | Typing
    | PostReply
    | GatewayProblem
    | ReplyPosted
    | SettingsUpdate
    | WorkerHello
    | Deliver
    | DeliveryUpdate
    | TurnEnded
    | TurnAck
    | ClaudeStatus
    | Heartbeat
    | ChoiceRequest
    | ChoiceWithdrawn
    | ChoiceAnswer
    | ToolProgress
    | PanePost
    | Interrupt
    | InterruptResult
    | Shutdown
    | StatusRequest
    | AddSession
    | RemoveSession
    | ListSessions
    | RecoverSession
    | StopAll
    | InterruptSession
    | RestartSessions
    | StopSession
    | StartSession
    | ReloadConfig
    | PostMessage
    | MoveSession
    | SessionRequest
    | StatusReply
    | SessionsReply
    | OkReply
    | ErrorReply
)
