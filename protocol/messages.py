"""Every message that crosses a process boundary, as one tagged union of msgspec Structs.

Schema evolution rules (msgspec's): new fields get defaults, a tag is never reused, and
the `v` field carries the protocol's major version so a peer from another release is
refused with a clear error rather than misread.
"""

from __future__ import annotations

from typing import Literal

import msgspec

PROTOCOL_VERSION = 1


class Message(msgspec.Struct, tag_field="type", kw_only=True, omit_defaults=True):
    """Base of every wire message."""

    v: int = PROTOCOL_VERSION


# --- shared data -------------------------------------------------------------------------


class AttachmentRef(msgspec.Struct, frozen=True, omit_defaults=True):
    """A file attached to a Discord message; the worker downloads it itself."""

    filename: str
    url: str
    size: int
    content_type: str = ""


class Author(msgspec.Struct, frozen=True, omit_defaults=True):
    id: int
    name: str
    bot: bool = False
    role_ids: tuple[int, ...] = ()


class ChatMessage(msgspec.Struct, frozen=True, omit_defaults=True):
    """A Discord message as the bridge needs it (no discord.py objects cross processes)."""

    message_id: int
    channel_id: int
    author: Author
    content: str
    attachments: tuple[AttachmentRef, ...] = ()
    created_at: float = 0.0


class Route(msgspec.Struct, frozen=True, omit_defaults=True):
    session: int
    channel_id: int
    # The newest message the bridge already has from this channel; the gateway catches up
    # on anything after it (posted while it was down).
    last_message_id: int = 0
    # Who may talk to this session, when it has its own lists (None: the global lists).
    allowed_users: tuple[int, ...] | None = None
    allowed_roles: tuple[int, ...] | None = None


ClaudeState = Literal[
    "unknown", "starting", "idle", "busy", "permission", "question", "dialog", "dead"
]
ProcessState = Literal["STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL"]
PromptStage = Literal["received", "accepted", "done", "failed"]


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
    """Where a user's message is, so the gateway can show it (reactions, failure replies)."""

    channel_id: int
    message_id: int
    stage: PromptStage
    detail: str = ""


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


class GatewayProblem(Message, tag="gateway_problem"):
    """Something only the operator can fix, found by the gateway; `vai status` shows it.

    `fatal`: the gateway cannot work at all (bad token, Message Content intent off) and
    exits with EXIT_CONFIG; otherwise it concerns one channel (a negative `channel_id`
    names a gateway-wide topic instead), and an empty `text` says the problem is gone.
    """

    text: str
    channel_id: int = 0
    fatal: bool = False


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
    answered because it died; the messages are done and the channel is told.
    The worker resends this until the supervisor's `TurnAck`.
    """

    session: int
    turn_id: str
    text: str
    message_ids: list[int] = msgspec.field(default_factory=list)
    interrupted: bool = False


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
    forwards it to the gateway, which posts it with one button per option.
    """

    request_id: str
    session: int
    kind: Literal["permission", "question"]
    text: str
    options: list[str]
    channel_id: int = 0
    timeout_s: float = 300.0


class ChoiceAnswer(Message, tag="choice_answer"):
    """The option an allowed user clicked; `option` is empty when the request expired."""

    request_id: str
    session: int
    option: str
    user_id: int = 0
    user_name: str = ""


class ToolProgress(Message, tag="tool_progress"):
    """What Claude is doing in a turn (PreToolUse/PostToolUse), for the channel to show."""

    session: int
    turn_id: str
    tool_name: str
    summary: str
    channel_id: int = 0
    done: bool = False


class Interrupt(Message, tag="interrupt"):
    """Ask the worker to interrupt Claude's current turn (Escape)."""


class Shutdown(Message, tag="shutdown"):
    """Ask a worker to exit; `stop_claude` also ends its pane (remove-session, vai stop)."""

    stop_claude: bool = False


# --- CLI (vai, dp) <-> supervisor control API ---------------------------------------------


class StatusRequest(Message, tag="status_request"):
    pass


class AddSession(Message, tag="add_session"):
    channel_id: int


class RemoveSession(Message, tag="remove_session"):
    session: int
    purge: bool = False


class ListSessions(Message, tag="list_sessions"):
    pass


class RecoverSession(Message, tag="recover_session"):
    session: int


class StopAll(Message, tag="stop_all"):
    pass


class InterruptSession(Message, tag="interrupt_session"):
    session: int


class PostMessage(Message, tag="post_message"):
    """`dp`: post text or a file to a session's channel (or a channel id) through the gateway."""

    session: int | None = None
    channel_id: int | None = None
    text: str = ""
    file_path: str = ""


class MoveSession(Message, tag="move_session"):
    """`vai move N --to HOST`: stop the session where it runs, start it on `host`."""

    session: int
    host: str


class SessionInfo(msgspec.Struct, frozen=True, omit_defaults=True):
    session: int
    channel_id: int
    work_dir: str
    state: ProcessState = "STOPPED"
    pid: int | None = None
    uptime_s: float | None = None
    claude_state: ClaudeState = "unknown"
    queued: int = 0
    memory_bytes: int | None = None
    detail: str = ""
    claude_pid: int | None = None  # the Claude pane's process (memory counts its tree)
    host: str = ""  # where it runs, once the bridge spans hosts ("": a single machine)
    host_down: bool = False  # its host's link to the hub is down


class StatusReply(Message, tag="status_reply"):
    supervisor_pid: int
    uptime_s: float
    gateway_state: ProcessState
    gateway_pid: int | None
    sessions: list[SessionInfo]
    problems: list[str] = msgspec.field(default_factory=list)  # for the operator to fix


class SessionsReply(Message, tag="sessions_reply"):
    sessions: list[SessionInfo]


class OkReply(Message, tag="ok"):
    text: str = ""
    session: int | None = None


class ErrorReply(Message, tag="error"):
    text: str


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
    | WorkerHello
    | Deliver
    | DeliveryUpdate
    | TurnEnded
    | TurnAck
    | ClaudeStatus
    | Heartbeat
    | ChoiceRequest
    | ChoiceAnswer
    | ToolProgress
    | Interrupt
    | Shutdown
    | StatusRequest
    | AddSession
    | RemoveSession
    | ListSessions
    | RecoverSession
    | StopAll
    | InterruptSession
    | PostMessage
    | MoveSession
    | StatusReply
    | SessionsReply
    | OkReply
    | ErrorReply
)
