"""Claude Code hook payloads, decoded once at the boundary into typed events."""

from __future__ import annotations

from typing import Any

import msgspec


class HookEvent(msgspec.Struct, kw_only=True, frozen=True):
    """One hook invocation; fields beyond the common four depend on the event."""

    hook_event_name: str
    session_id: str = ""
    transcript_path: str = ""
    cwd: str = ""
    source: str = ""
    model: Any = None
    prompt: str = ""
    prompt_id: str = ""
    permission_mode: str = ""
    tool_name: str = ""
    tool_input: Any = None
    tool_use_id: str = ""
    tool_response: Any = None
    message: str = ""
    notification_type: str = ""
    last_assistant_message: str | None = None
    stop_hook_active: bool = False
    reason: str = ""
    permission_suggestions: Any = None


_decoder = msgspec.json.Decoder(HookEvent)


def decode_hook(payload: bytes) -> HookEvent:
    """Raises msgspec.DecodeError for a payload that is not a hook event."""
    return _decoder.decode(payload)


HOOK_EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "Notification",
    "Stop",
    "SessionEnd",
)
