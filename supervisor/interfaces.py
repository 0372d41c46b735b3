"""What the supervisor's parts need from each other, as small Protocols.

The control API, the monitor and the switchboard each name the few things they use (the
session directory, readings of the children, an alert sink, session changes, the
durable store) rather than taking the whole supervisor; server.py builds the parts and
hands each its share. Nothing here imports the parts, so nothing imports upward.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from vai.protocol.messages import ChatMessage, ClaudeState, PostReply, ProcessState, PromptStage
from vai.protocol.session_settings import SessionSettings
from vai.protocol.usage import TurnUsage, UsageTotals


class SessionDirectory(Protocol):
    """Which sessions exist: number -> Discord channel id."""

    def sessions(self) -> Mapping[int, int]: ...


@dataclass(frozen=True)
class ChildReading:
    """One child process as the supervisor knows it now."""

    state: ProcessState = "STOPPED"
    pid: int | None = None  # the live process, connected or not
    connected: bool = False  # it said hello on the bus
    uptime_s: float | None = None
    detail: str = ""  # why it is in this state
    claude_state: ClaudeState = "unknown"


class StatusReadings(SessionDirectory, Protocol):
    """The supervisor's own figures, for `vai status` and the monitor."""

    def session_reading(self, session: int) -> ChildReading: ...

    def gateway_reading(self) -> ChildReading: ...

    def queued(self, session: int) -> int: ...

    def usage_totals(self) -> dict[int, UsageTotals]:
        """Each session's token use so far (supervisor/usage_book.py)."""
        ...

    def problems(self) -> list[str]: ...

    def uptime(self) -> float: ...

    def local_url(self) -> str:
        """The embedded local Discord's chat page with this run's key ("" without one)."""
        ...

    def host_of(self, session: int) -> tuple[str, bool]:
        """Where the session runs and whether that host is down ("": one machine)."""
        ...


class MemoryReadings(Protocol):
    def session_memory(self, session: int, worker_pid: int | None) -> tuple[int | None, int | None]:
        """(Claude's pane pid, memory of the worker plus Claude's process tree), read now."""
        ...


class AlertSink(Protocol):
    def alert(self, session: int, text: str, icon: str = "⚠️") -> None:
        """Post `text` to the session's channel, durably, whenever the gateway can."""
        ...


@dataclass(frozen=True)
class Changed:
    """A session change done: which session, and the line to show the operator."""

    session: int
    text: str


class SessionChanges(Protocol):
    """The operator's changes to the session set; BridgeError says why one is refused."""

    async def add(
        self, channel_id: int, settings: SessionSettings | None = None, *, confined: bool = False
    ) -> Changed:
        """`confined`: asked from Discord, the work dir must be in `[claude] work_dir_roots`."""
        ...

    def settings(self) -> Mapping[int, SessionSettings]:
        """Each session's record: name, work dir, kind, parent channel, host."""
        ...

    async def add_thread(
        self, thread_id: int, parent_channel_id: int, name: str, after: int
    ) -> Changed: ...

    async def end_thread(self, thread_id: int) -> Changed: ...

    async def set_threads(self, session: int, enabled: bool) -> Changed: ...

    async def plan(self, work_dir: str) -> Changed:
        """Before `/new` makes a channel: the number a session would get, and the work dir
        it would have (text); BridgeError when the work dir is not allowed."""
        ...

    async def remove(self, session: int, purge: bool) -> Changed: ...

    async def recover(self, session: int) -> Changed: ...

    async def restart(self, session: int | None) -> Changed:
        """A session's worker and Claude; None: every session and the gateway."""
        ...

    async def stop(self, session: int) -> Changed:
        """The operator's stop: STOPPED until `start`, across supervisor restarts."""
        ...

    async def start(self, session: int) -> Changed: ...

    async def move(self, session: int, host: str) -> Changed: ...


class Operations(Protocol):
    """What the control API does to running sessions besides changing the set."""

    async def interrupt(self, session: int) -> str:
        """How it went: an InterruptOutcome, "sent" (no word back in time) or
        "not_running"."""
        ...

    async def reload(self) -> list[str]:
        """Read vai.toml again, apply what can be live; what was done, in lines."""
        ...

    async def post(self, reply: PostReply) -> bool:
        """Store the post, then send it; False when it waits for the gateway."""
        ...

    def stop(self) -> None: ...


class MessageStore(Protocol):
    """The durable inbox and outbox (supervisor/inbox.py); every write is committed
    before it returns."""

    def add_messages(self, items: Iterable[tuple[int, ChatMessage]]) -> list[bool]: ...

    def open_messages(self, session: int) -> list[tuple[ChatMessage, PromptStage]]: ...

    def set_stage(self, message_id: int, stage: PromptStage) -> bool: ...

    def session_of(self, message_id: int) -> int | None: ...

    def channel_of(self, message_id: int) -> int | None: ...

    def last_message_ids(self) -> dict[int, int]: ...

    def add_reply(self, reply: PostReply) -> bool: ...

    def unposted_replies(self) -> list[PostReply]: ...

    def mark_posted(self, reply_id: str) -> None: ...

    def add_usage(self, session: int, turn_id: str, usage: TurnUsage) -> bool: ...


class TurnObserver(Protocol):
    """What routing learns of a session's turns, for response times and pane readings."""

    def prompt_accepted(self, session: int, message_id: int) -> None: ...

    def turn_ended(self, session: int, message_ids: list[int]) -> None: ...

    def pane_seen(self, session: int, pane_pid: int | None) -> None: ...
