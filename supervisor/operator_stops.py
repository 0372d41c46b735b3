"""Sessions the operator stopped (`vai stop-session N`): kept across supervisor restarts.

A stopped session stays STOPPED until `vai start-session N`: the supervisor does not start
it at boot and never restarts it on its own (an automatic restarter must not fight the
operator). Its messages wait in the inbox and are delivered when it starts. The set is
a small JSON list in state/, written atomically; an unreadable file is reported and
never overwritten, as every file the bridge reads.
"""

from __future__ import annotations

import json
from pathlib import Path

from vai.common.atomic import write_atomic
from vai.common.errors import ConfigError
from vai.protocol.ids import parse_id
from vai.protocol.layout import Layout

STOPPED_DETAIL = "by operator"  # STOPPED (by operator)


def stops_file(layout: Layout) -> Path:
    return layout.state_dir / "operator_stopped.json"


def load_stops(layout: Layout) -> set[int]:
    path = stops_file(layout)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return set()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(path, f"cannot read: {exc}") from None
    if not isinstance(raw, list):
        raise ConfigError(path, "expected a list of session numbers")
    numbers = {parse_id(str(item)) for item in raw}
    if None in numbers:
        raise ConfigError(path, "expected a list of session numbers")
    return {n for n in numbers if n is not None}


def save_stops(layout: Layout, sessions: set[int]) -> None:
    path = stops_file(layout)
    if not sessions:
        path.unlink(missing_ok=True)
        return
    layout.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(path, (json.dumps(sorted(sessions)) + "\n").encode(), mode=0o600)


def mark_stopped(layout: Layout, session: int, stopped: bool) -> bool:
    """Record (or clear) an operator's stop; True when that changed anything."""
    sessions = load_stops(layout)
    if (session in sessions) == stopped:
        return False
    save_stops(layout, sessions | {session} if stopped else sessions - {session})
    return True
