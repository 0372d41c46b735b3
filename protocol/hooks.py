"""Claude Code hook payloads: one tagged union keyed on `hook_event_name`, decoded once.

The hook client hands each payload (JSON, as Claude wrote it) to the session's worker; this
is what crosses that boundary. Fields follow the CLI 2.1.330 (shared/notes/claude-code.md);
unknown fields are ignored, and the types are those the real CLI was seen to send, lenient
(`Any`) where it varies. An event name this release does not know (`SubagentStop`,
`TaskCompleted`, ...) decodes to `OtherHook`, never an error: adding an event is one more
Struct in `KnownHook`, and the worker's exhaustive `match` then asks for it. What the CLI
sends for StopFailure, `background_tasks` and `source` is pinned in
tests/fixtures/real_screens/README.md ("Turns that fail").

`StatusLine` is no hook event: it is what the CLI hands its statusLine command (the hook
client in its status mode sends it under its own header kind), decoded by
`decode_status_line`, never by `decode_hook`.
"""

from __future__ import annotations

import json
import math
from typing import Any

import msgspec

from vai.protocol.text import well_formed_data


class Hook(msgspec.Struct, tag_field="hook_event_name", kw_only=True, frozen=True):
    """The fields every event carries (`prompt_id` too, while a turn runs)."""

    session_id: str = ""
    transcript_path: str = ""
    cwd: str = ""
    prompt_id: str = ""

    @property
    def event(self) -> str:
        return str(self.__struct_config__.tag)


class SessionStart(Hook, tag="SessionStart", frozen=True):
    source: str = ""  # startup, resume, clear
    model: Any = None


class UserPromptSubmit(Hook, tag="UserPromptSubmit", frozen=True):
    prompt: str = ""
    permission_mode: str = ""
    # Who wrote the prompt: user (the composer: the bridge types there), sdk, system (a
    # peer session's message, a task notification), loop_wakeup, schedule_wakeup,
    # poll_event. The CLI's schema has it; 2.1.330 and 2.1.332 leave it out ("" here).
    source: str = ""


class PreToolUse(Hook, tag="PreToolUse", frozen=True):
    tool_name: str = ""
    tool_input: Any = None
    tool_use_id: str = ""


class PermissionRequest(Hook, tag="PermissionRequest", frozen=True):
    tool_name: str = ""
    tool_input: Any = None
    permission_suggestions: Any = None


class PostToolUse(Hook, tag="PostToolUse", frozen=True):
    tool_name: str = ""
    tool_input: Any = None
    tool_use_id: str = ""
    tool_response: Any = None
    duration_ms: Any = None


class Notification(Hook, tag="Notification", frozen=True):
    message: str = ""
    notification_type: str = ""  # permission_prompt, idle_prompt


class Stop(Hook, tag="Stop", frozen=True):
    last_assistant_message: str | None = None  # the turn's final text
    stop_hook_active: bool = False
    # Work the turn left running (a `run_in_background` Bash, a subagent...): a list of
    # {id, type, status, description, ...}; empty when nothing is in flight. Lenient: a
    # Stop must never fail to decode over it.
    background_tasks: Any = None

    @property
    def background_count(self) -> int:
        """How many background tasks still run (0 for a CLI that does not say)."""
        tasks = self.background_tasks
        return sum(1 for task in tasks if isinstance(task, dict)) if isinstance(tasks, list) else 0


class StopFailure(Hook, tag="StopFailure", frozen=True):
    """A turn ended by an API error once the CLI gave up retrying (no Stop follows)."""

    error: str = ""  # rate_limit, overloaded, invalid_request, server_error, unknown, ...
    error_details: str = ""  # the HTTP status and body, e.g. '529 {"type":"error",...}'
    last_assistant_message: str | None = None  # what the CLI shows for it


class SessionEnd(Hook, tag="SessionEnd", frozen=True):
    reason: str = ""  # prompt_input_exit, clear, ...


KnownHook = (
    SessionStart
    | UserPromptSubmit
    | PreToolUse
    | PermissionRequest
    | PostToolUse
    | Notification
    | Stop
    | StopFailure
    | SessionEnd
)


class OtherHook(msgspec.Struct, kw_only=True, frozen=True):
    """An event this release has no Struct for; kept (and logged), never dropped silently."""

    hook_event_name: str
    session_id: str = ""
    transcript_path: str = ""
    cwd: str = ""
    prompt_id: str = ""

    @property
    def event(self) -> str:
        return self.hook_event_name


HookPayload = KnownHook | OtherHook

# The events Claude is configured to report (its settings name each one).
HOOK_EVENTS: tuple[str, ...] = tuple(str(kind.__struct_config__.tag) for kind in KnownHook.__args__)


class _Named(msgspec.Struct):
    hook_event_name: str


_known = msgspec.json.Decoder(KnownHook)
_named = msgspec.json.Decoder(_Named)
_other = msgspec.json.Decoder(OtherHook)


def decode_hook(payload: bytes) -> HookPayload:
    """The event in `payload`; msgspec.DecodeError (or its ValidationError) if it is no
    hook event, or a known event with fields of the wrong type.

    JSON may escape half of a surrogate pair (Claude's text cut inside an emoji): msgspec
    refuses that, so such a payload is read again with U+FFFD in its place, and the event
    (a turn's end, say) is not lost.
    """
    try:
        return _decode(payload)
    except msgspec.ValidationError:
        raise
    except msgspec.DecodeError:
        if b"\\u" not in payload:
            raise
    try:
        data = json.loads(payload)
    except ValueError:
        raise msgspec.DecodeError("hook payload is not JSON") from None
    return _decode(msgspec.json.encode(well_formed_data(data)))


def _decode(payload: bytes) -> HookPayload:
    try:
        return _known.decode(payload)
    except msgspec.ValidationError:
        name = _named.decode(payload).hook_event_name
        if name in HOOK_EVENTS:
            raise
        return _other.decode(payload)


# -- the statusLine command's JSON ------------------------------------------------------------

MAX_COST_USD = 1_000_000.0  # per CLI process: far beyond any real session
MAX_WINDOW = 100_000_000  # tokens


def bounded_number(value: object, limit: float) -> float:
    """A finite number in [0, limit], or 0: the reading comes from the pane, untrusted."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return 0.0
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        return 0.0
    return min(number, limit)


class StatusCost(msgspec.Struct, frozen=True):
    total_cost_usd: Any = None  # cumulative per CLI process


class StatusContext(msgspec.Struct, frozen=True):
    context_window_size: Any = None
    used_percentage: Any = None  # null before the first request


class StatusLine(msgspec.Struct, kw_only=True, frozen=True):
    """What the CLI hands its statusLine command (on start-up, after each response,
    debounced): the only place with its own cost and the context window's size
    (tests/fixtures/real_screens/README.md, "Usage"). Lenient: any field may be missing
    or of another type; the properties are what the worker trusts of it."""

    session_id: Any = ""
    prompt_id: Any = ""
    cost: StatusCost | None = None
    context_window: StatusContext | None = None

    @property
    def total_cost_usd(self) -> float:
        return bounded_number(self.cost.total_cost_usd if self.cost else None, MAX_COST_USD)

    @property
    def window(self) -> int:
        size = self.context_window.context_window_size if self.context_window else None
        return int(bounded_number(size, MAX_WINDOW))


_status_line = msgspec.json.Decoder(StatusLine)


def decode_status_line(payload: bytes) -> StatusLine | None:
    """The reading in `payload`, or None if it is not one (never raises)."""
    try:
        return _status_line.decode(payload)
    except msgspec.DecodeError:
        try:
            data = json.loads(payload)
            return _status_line.decode(msgspec.json.encode(well_formed_data(data)))
        except (ValueError, RecursionError, msgspec.DecodeError):
            return None
