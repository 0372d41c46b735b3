"""What a session is besides its number: pure data, the record sessions.json keeps.

A session was once only a channel id; now it also has a name, its own Claude work dir,
a kind (a channel, or a Discord thread of a parent channel, possibly in a git worktree
of the parent's work dir), whether threads in its channel get sessions of their own, and
the host it runs on. Every field but the channel has a default, so an old entry (a bare
channel id) is a record with defaults, and new fields can be added the same way.
"""

from __future__ import annotations

from typing import Literal

import msgspec

# The supervisor's own machine: where every session runs until sessions can be placed on
# other hosts (the field is carried so that work can read it).
LOCAL_HOST = "local"

SessionKind = Literal["channel", "thread"]


class SessionSettings(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One session's record; ids are plain here (sessions_file encrypts them on disk)."""

    channel_id: int
    name: str = ""
    # Claude's working directory; "" = the global `[claude] work_dir`.
    work_dir: str = ""
    kind: SessionKind = "channel"
    # A thread's parent channel (0 for a channel).
    parent_channel_id: int = 0
    # The git worktree the bridge made for a thread ("" = none).
    worktree: str = ""
    host: str = LOCAL_HOST
    # New threads in this channel get sessions of their own (`/threads on`).
    threads: bool = False

    @property
    def is_thread(self) -> bool:
        return self.kind == "thread"
