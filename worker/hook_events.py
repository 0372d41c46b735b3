"""Claude Code hook payloads, decoded once at the boundary into typed events."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from vai.protocol.text import well_formed_data


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
    """Raises msgspec.DecodeError for a payload that is not a hook event.

    JSON may escape half of a surrogate pair (Claude's text cut inside an emoji): msgspec
    refuses that, so such a payload is read again with U+FFFD in its place, and the
    event (a turn's end, say) is not lost.
    """
    try:
        return _decoder.decode(payload)
    except msgspec.DecodeError:
        if b"\\u" not in payload:
            raise
    try:
        data = json.loads(payload)
    except ValueError:
        raise msgspec.DecodeError("hook payload is not JSON") from None
    try:
        return msgspec.convert(well_formed_data(data), HookEvent)
    except msgspec.ValidationError as exc:
        raise msgspec.DecodeError(str(exc)) from None


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
