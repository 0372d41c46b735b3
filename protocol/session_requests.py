"""Control requests for sessions started from Discord: /new, /threads, and thread sessions.

The gateway asks; the supervisor decides and does the work (supervisor/session_changes.py
and live_sessions.py). They travel on the control link like `vai`'s requests and are
answered with OkReply or ErrorReply; messages.py adds them to the wire union.
"""

from __future__ import annotations

from vai.protocol.message_base import Message


class PlanSession(Message, tag="plan_session"):
    """Before `/new` makes a channel: is `work_dir` allowed (inside `[claude]
    work_dir_roots`), and which number would the session get? OkReply: `text` the
    resolved work dir, `session` the number (another add may still take it first)."""

    work_dir: str = ""


class SetThreads(Message, tag="set_threads"):
    """`/threads on|off`: whether new threads in the session's channel get sessions."""

    session: int
    enabled: bool


class AddThreadSession(Message, tag="add_thread_session"):
    """A thread in a channel whose session has threads on (just made, or first written
    in): a session of its own, in a git worktree of the parent's work dir when that is a
    repository. `after`: catching up starts after this message id (the thread's own id
    for a new thread). Answered once the worker is up; an existing session is no error."""

    thread_id: int
    parent_channel_id: int
    name: str = ""
    after: int = 0


class EndThreadSession(Message, tag="end_thread_session"):
    """A thread session's thread was archived (or deleted): stop and remove the session,
    keeping its logs, and remove its worktree when configured and clean. OkReply's text
    says what became of the worktree ("" when there is nothing to say)."""

    thread_id: int
    deleted: bool = False


SessionRequest = PlanSession | SetThreads | AddThreadSession | EndThreadSession
