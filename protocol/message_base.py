"""The base of every wire message and the data they share: plain msgspec Structs.

protocol/messages.py builds the messages on these (and re-exports them); they live
apart so each module stays small.
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
    # A thread session names its parent channel; a channel's session says whether new
    # threads in it get sessions of their own.
    thread_of: int = 0
    threads: bool = False


# "background": idle at its prompt, but work a turn started (a background Bash, a
# subagent) still runs; a new prompt may be typed.
ClaudeState = Literal[
    "unknown",
    "starting",
    "idle",
    "busy",
    "background",
    "permission",
    "question",
    "dialog",
    "dead",
]
ProcessState = Literal["STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL"]
PromptStage = Literal["received", "accepted", "done", "failed"]
