"""One session as the control API reports it (`vai status`, `vai list-sessions`)."""

from __future__ import annotations

import msgspec

from vai.protocol.message_base import ClaudeState, ProcessState
from vai.protocol.session_settings import SessionSettings
from vai.protocol.usage import UsageTotals


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
    host: str = ""  # where it runs ("": a single machine); host_down: its link is down
    host_down: bool = False
    settings: SessionSettings | None = None  # name, kind, parent, host, threads
    usage: UsageTotals | None = None  # tokens (and cost, where known) since it was added
