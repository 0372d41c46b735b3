"""The control API's messages: the `vai` CLI and `dp` ask the supervisor, it answers.

They travel on the control socket; messages.py adds them to the wire union and re-exports
them, so `from vai.protocol.messages import StatusReply` keeps working.
"""

from __future__ import annotations

import msgspec

from vai.protocol.message_base import Message, ProcessState
from vai.protocol.session_info import SessionInfo
from vai.protocol.session_settings import SessionSettings


class StatusRequest(Message, tag="status_request"):
    pass


class AddSession(Message, tag="add_session"):
    channel_id: int
    # Name, work dir, kind (`vai add-session --work-dir`, `/new`, `/bind`); None: defaults.
    settings: SessionSettings | None = None
    confined: bool = False  # asked from Discord: the work dir must be in work_dir_roots


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


class RestartSessions(Message, tag="restart_sessions"):
    """`vai restart [N]`: a session's worker and Claude; None: every session and the gateway."""

    session: int | None = None


class StopSession(Message, tag="stop_session"):
    """`vai stop-session N`: stopped until started again, across supervisor restarts."""

    session: int


class StartSession(Message, tag="start_session"):
    session: int


class ReloadConfig(Message, tag="reload_config"):
    """`vai reload`: read vai.toml again and apply what can be applied live."""


class PostMessage(Message, tag="post_message"):
    """`dp`: post text or a file to a session's channel (or a channel id) through the gateway."""

    session: int | None = None
    channel_id: int | None = None
    text: str = ""
    file_path: str = ""


class MoveSession(Message, tag="move_session"):
    session: int  # `vai move N --to HOST`: stopped where it runs, started on `host`
    host: str


class StatusReply(Message, tag="status_reply"):
    supervisor_pid: int
    uptime_s: float
    gateway_state: ProcessState
    gateway_pid: int | None
    sessions: list[SessionInfo]
    problems: list[str] = msgspec.field(default_factory=list)  # for the operator to fix
    isolation: str = ""  # who Claude runs as, in one line (supervisor/isolation.py)
    # The embedded local Discord's chat page, with this run's key: for the operator only.
    local_url: str = ""


class SessionsReply(Message, tag="sessions_reply"):
    sessions: list[SessionInfo]


class OkReply(Message, tag="ok"):
    text: str = ""
    session: int | None = None


class ErrorReply(Message, tag="error"):
    text: str
