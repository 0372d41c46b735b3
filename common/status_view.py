"""Rendering `vai status` and `vai list-sessions` like `supervisorctl status`: pure.

Exit codes of `vai status` (SPEC section 3, common/exit_codes.py): 0 when the gateway
and every session are RUNNING, 3 when something is not, 4 when the supervisor cannot be
reached.
"""

from __future__ import annotations

from typing import Any

import msgspec

from vai.common.exit_codes import EXIT_NOT_RUNNING, EXIT_OK
from vai.protocol.messages import SessionInfo, StatusReply

CLAUDE_STATES = {
    "unknown": "-",
    "starting": "starting",
    "idle": "idle",
    "busy": "busy",
    "background": "working in background",
    "permission": "waiting for permission",
    "question": "waiting for an answer",
    "dialog": "dialog open",
    "dead": "dead",
}
STATUS_COLUMNS = ["SESSION", "CHANNEL", "STATE", "PID", "UPTIME", "CLAUDE", "QUEUED", "MEMORY"]


def format_uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    whole = int(seconds)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{days}d {clock}" if days else clock


def format_bytes(value: int | None) -> str:
    if value is None:
        return "-"
    size = float(value)
    for unit in ("B", "K", "M", "G"):
        if size < 1024 or unit == "G":
            return f"{size:.0f}{unit}" if unit == "B" else f"{size:.1f}{unit}"
        size /= 1024
    return f"{size:.1f}G"


def table(rows: list[list[str]]) -> str:
    """Left-aligned columns two spaces apart; trailing blanks trimmed."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def _why(state: str, detail: str) -> str:
    """supervisorctl's description column: only when something is not running."""
    return detail if state != "RUNNING" and detail else ""


def _host(info: SessionInfo) -> list[str]:
    return [f"{info.host} HOST DOWN" if info.host_down else info.host]


def _thread_of(info: SessionInfo) -> str:
    """A thread session names its parent channel (and its session, when there is one)."""
    settings = info.settings
    if settings is None or not settings.is_thread:
        return ""
    return f" thread of {settings.parent_channel_id}"


def render_status(status: StatusReply, *, operator: bool = False) -> str:
    """The table; `operator` (the `vai` command, run by the operator) adds the local chat
    page's address, which carries this run's key, so it is never shown anywhere else.
    With sessions on several hosts, a HOST column after CHANNEL (HOST DOWN when the
    host's link to the hub is down); a single machine's table is as it always was."""
    hosts = any(s.host for s in status.sessions)
    columns = [*STATUS_COLUMNS[:2], "HOST", *STATUS_COLUMNS[2:]] if hosts else STATUS_COLUMNS
    rows = [[*columns, ""]]
    gateway_host = ["-"] if hosts else []
    rows.append(
        [
            "gateway",
            "-",
            *gateway_host,
            status.gateway_state,
            str(status.gateway_pid or "-"),
            "-",
            "-",
            "-",
            "-",
            "",
        ]
    )
    for info in status.sessions:
        rows.append(
            [
                str(info.session),
                str(info.channel_id),
                *(_host(info) if hosts else []),
                info.state,
                str(info.pid or "-"),
                format_uptime(info.uptime_s),
                CLAUDE_STATES.get(info.claude_state, info.claude_state),
                str(info.queued),
                format_bytes(info.memory_bytes),
                _why(info.state, info.detail) + _thread_of(info),
            ]
        )
    running = sum(1 for s in status.sessions if s.state == "RUNNING")
    header = (
        f"supervisor pid {status.supervisor_pid}, up {format_uptime(status.uptime_s)};"
        f" {running} of {len(status.sessions)} sessions running"
    )
    lines = [header, table(rows)]
    if status.isolation:
        lines.append(f"isolation: {status.isolation}")
    lines += [f"problem: {problem}" for problem in status.problems]
    if operator and status.local_url:
        lines.append(f"local Discord: {status.local_url} (this run's key: keep it to yourself)")
    return "\n".join(lines)


def status_document(status: StatusReply) -> dict[str, Any]:
    """`vai status --json`: stable keys for scripts (not the wire format).

    Channel ids are strings, as in Discord's own API: a snowflake does not fit in the
    double that JavaScript and jq read JSON numbers into.
    """
    return {
        "supervisor": {
            "state": "RUNNING",
            "pid": status.supervisor_pid,
            "uptime_s": round(status.uptime_s, 3),
        },
        "gateway": {"state": status.gateway_state, "pid": status.gateway_pid},
        "sessions": [
            {
                "session": s.session,
                "channel_id": str(s.channel_id),  # a snowflake: jq would round a number
                "state": s.state,
                "pid": s.pid,
                "uptime_s": None if s.uptime_s is None else round(s.uptime_s, 3),
                "claude_state": s.claude_state,
                "claude_pid": s.claude_pid,
                "queued": s.queued,
                "memory_bytes": s.memory_bytes,
                "work_dir": s.work_dir,
                "detail": s.detail,
                "usage": None if s.usage is None else msgspec.to_builtins(s.usage),
                "host": s.host,
                "host_down": s.host_down,
                "kind": s.settings.kind if s.settings else "channel",
                "parent_channel_id": (
                    str(s.settings.parent_channel_id)
                    if s.settings and s.settings.is_thread
                    else None
                ),
                "name": s.settings.name if s.settings else "",
            }
            for s in status.sessions
        ],
        "problems": list(status.problems),
        "isolation": status.isolation,
        "local_url": status.local_url or None,
        "all_running": status_exit_code(status) == EXIT_OK,
    }


def unreachable_document(error: str) -> dict[str, Any]:
    return {"supervisor": {"state": "UNREACHABLE", "error": error}, "all_running": False}


def render_sessions(sessions: list[SessionInfo]) -> str:
    if not sessions:
        return "no sessions (add one with `vai add-session <channel_id>`)"
    rows = [["SESSION", "CHANNEL", "WORK DIR"]]
    rows += [[str(s.session), str(s.channel_id), s.work_dir] for s in sessions]
    records = [s.settings for s in sessions]
    if any(r is not None and (r.name or r.is_thread) for r in records):
        # Named sessions and thread sessions: their name, and a thread's parent channel.
        rows[0] += ["NAME", "THREAD OF"]
        for row, record in zip(rows[1:], records, strict=True):
            name = record.name if record is not None else ""
            parent = str(record.parent_channel_id) if record and record.is_thread else ""
            row += [name or "-", parent or "-"]
    return table(rows)


def status_exit_code(status: StatusReply) -> int:
    states = [status.gateway_state, *(s.state for s in status.sessions)]
    return EXIT_OK if all(s == "RUNNING" for s in states) else EXIT_NOT_RUNNING
