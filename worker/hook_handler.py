"""What the worker does with each of Claude's hook events, matched exhaustively.

Every event goes to the turn tracker first (UserPromptSubmit, Stop and StopFailure move
the turn on).
Then: SessionStart moves the journal to the conversation now running (a /clear starts a
new one); tool events become progress for the channel, and the hooks that wait for a
person (PermissionRequest, AskUserQuestion at PreToolUse) are answered from the channel
while they are live (worker/asking.py). An event this release has no Struct for is
logged and otherwise left alone.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import assert_never

from vai.protocol.hooks import (
    HookPayload,
    Notification,
    OtherHook,
    PermissionRequest,
    PostToolUse,
    PreToolUse,
    SessionEnd,
    SessionStart,
    Stop,
    StopFailure,
    UserPromptSubmit,
)
from vai.protocol.links import WorkerToSupervisor
from vai.protocol.messages import ToolProgress
from vai.worker.asking import HookAsks
from vai.worker.choices import ChoiceBroker
from vai.worker.session_state import SessionState
from vai.worker.tool_hooks import ASK_TOOL, tool_summary
from vai.worker.turns.tracker import TurnTracker
from vai.worker.turns.vocabulary import HookFired, TurnEvent

log = logging.getLogger("worker")


class HookHandler:
    def __init__(
        self,
        *,
        session: int,
        tracker: TurnTracker,
        tell: Callable[[TurnEvent], Awaitable[None]],
        send: Callable[[WorkerToSupervisor], Awaitable[None]],
        state: SessionState,
        save: Callable[[], None],
        choices: ChoiceBroker,
    ) -> None:
        self.session = session
        self.tracker = tracker
        self.tell = tell
        self.send = send
        self.state = state
        self.save = save
        self.asks = HookAsks(choices, tell)

    async def on_hook(self, hook: HookPayload, live: bool) -> bytes:
        """`live`: Claude waits for the answer now (False for events replayed from the spool)."""
        await self.tell(HookFired(hook))
        match hook:
            case SessionStart():
                self._follow_conversation(hook)
            case PreToolUse() | PostToolUse():
                return await self._on_tool(hook, live)
            case PermissionRequest():
                return await self.asks.permission(hook) if live else b""
            case OtherHook(hook_event_name=name):
                log.info("hook event %s is new to this worker; nothing to do for it", name)
            case UserPromptSubmit() | Stop() | StopFailure() | Notification() | SessionEnd():
                pass
            case _:
                assert_never(hook)
        return b""

    def _follow_conversation(self, hook: SessionStart) -> None:
        if not hook.session_id:
            return
        now = (hook.session_id, hook.transcript_path)
        if now != (self.state.conversation_id, self.state.transcript_path):
            self.state.conversation_id, self.state.transcript_path = now
            self.save()
            log.info("conversation is now %s (%s)", hook.session_id, hook.source)

    async def _on_tool(self, hook: PreToolUse | PostToolUse, live: bool) -> bytes:
        """Progress upstream; an AskUserQuestion call is answered from the channel."""
        done = isinstance(hook, PostToolUse)
        await self.send(
            ToolProgress(
                session=self.session,
                turn_id=hook.prompt_id or self.tracker.turn_id,
                tool_name=hook.tool_name,
                summary=tool_summary(hook.tool_name, hook.tool_input),
                done=done,
            )
        )
        if isinstance(hook, PostToolUse) or not live or hook.tool_name != ASK_TOOL:
            return b""
        return await self.asks.questions(hook)
