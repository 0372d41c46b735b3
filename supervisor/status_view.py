"""Rendering `vai status` and `vai list-sessions` like `supervisorctl status`: pure."""

from __future__ import annotations

from protocol.messages import SessionInfo, StatusReply

EXIT_ALL_RUNNING = 0
EXIT_SOME_NOT_RUNNING = 3
EXIT_UNREACHABLE = 4


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


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def render_status(status: StatusReply) -> str:
    rows = [["SESSION", "CHANNEL", "STATE", "PID", "UPTIME", "CLAUDE", "QUEUED", "MEMORY"]]
    rows.append(
        [
            "gateway",
            "-",
            status.gateway_state,
            str(status.gateway_pid or "-"),
            "-",
            "-",
            "-",
            "-",
        ]
    )
    for info in status.sessions:
        rows.append(
            [
                str(info.session),
                str(info.channel_id),
                info.state,
                str(info.pid or "-"),
                format_uptime(info.uptime_s),
                info.claude_state,
                str(info.queued),
                format_bytes(info.memory_bytes),
            ]
        )
    header = f"supervisor pid {status.supervisor_pid}, up {format_uptime(status.uptime_s)}"
    return header + "\n" + _table(rows)


def render_sessions(sessions: list[SessionInfo]) -> str:
    if not sessions:
        return "no sessions (add one with `vai add-session <channel_id>`)"
    rows = [["SESSION", "CHANNEL", "WORK DIR"]]
    rows += [[str(s.session), str(s.channel_id), s.work_dir] for s in sessions]
    return _table(rows)


def status_exit_code(status: StatusReply) -> int:
    states = [status.gateway_state, *(s.state for s in status.sessions)]
    return EXIT_ALL_RUNNING if all(s == "RUNNING" for s in states) else EXIT_SOME_NOT_RUNNING
