"""sessions.json: session number -> its record (protocol/session_settings.py), written atomically.

An entry is the original format, a bare channel id (`{"1": "<channel id>"}`), while the
session has nothing but defaults, and otherwise a small record:

    {"2": {"channel_id": "<id>", "work_dir": "/srv/app", "kind": "thread",
           "parent_channel_id": "<id>", "worktree": "/srv/app/.vai-worktrees/..."}}

Both forms are read, so old files load and an older bridge still reads the sessions that
have no settings. When ENCRYPTION_KEY is set the channel ids (a thread's parent too) are
stored Fernet-encrypted (seed DR-003); plain ids are still read, so a file can be
migrated either way (`vai encrypt-sessions`). A file that cannot be read is an error,
never overwritten.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from vai.common.atomic import write_atomic
from vai.common.errors import ConfigError
from vai.protocol.ids import id_problem, parse_id
from vai.protocol.session_settings import SessionKind, SessionSettings

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

# The record's fields that hold a channel id (encrypted with a key).
ID_FIELDS = ("channel_id", "parent_channel_id")


class _Stored(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A record as it is on disk: ids as strings (plain or Fernet tokens)."""

    channel_id: str | int
    name: str = ""
    work_dir: str = ""
    kind: SessionKind = "channel"
    parent_channel_id: str | int = ""
    worktree: str = ""
    host: str = ""
    threads: bool = False


def _fernet(key: str | None, path: Path) -> Fernet | None:
    """Imported only with a key: cryptography costs every process ~8 MB and ~0.15 s."""
    if not key:
        return None
    from cryptography.fernet import Fernet

    try:
        return Fernet(key.encode())
    except (ValueError, TypeError):
        raise ConfigError(path, "ENCRYPTION_KEY is not a valid Fernet key") from None


def _read(path: Path) -> dict[str, Any] | None:
    """The file's JSON object; None when there is no file."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(path, f"invalid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(path, 'expected an object like {"1": "<channel id>"}')
    return raw


def stored_ids(path: Path) -> list[str]:
    """Every id as stored (plain digits or tokens), for the migrations; the file must
    have loaded with load_entries first."""
    stored: list[str] = []
    for value in (_read(path) or {}).values():
        if isinstance(value, dict):
            stored += [str(value[f]) for f in ID_FIELDS if value.get(f) not in (None, "", 0)]
        else:
            stored.append(str(value))
    return stored


def rewrite_ids(path: Path, change: Callable[[str], str]) -> None:
    """Every stored id through `change` (encrypting plain ones), the rest as it is; the
    file must have loaded with load_entries first."""
    data = _read(path) or {}
    for number, value in data.items():
        if isinstance(value, dict):
            for field in ID_FIELDS:
                if value.get(field) not in (None, "", 0):
                    value[field] = change(str(value[field]))
        else:
            data[number] = change(str(value))
    ordered = dict(sorted(data.items(), key=lambda item: int(item[0])))
    write_atomic(path, (json.dumps(ordered, indent=2) + "\n").encode(), mode=0o600)


def _plain_id(value: object, what: str, number: str, fernet: Fernet | None, path: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigError(path, f"session {number}: {what} must be a string")
    text = str(value)
    if not is_plain(text) and is_token(text):
        if fernet is None:
            raise ConfigError(
                path, f"session {number}: {what} is encrypted but ENCRYPTION_KEY is not set"
            )
        from cryptography.fernet import InvalidToken

        try:
            text = fernet.decrypt(text.encode()).decode()
        except InvalidToken:
            raise ConfigError(
                path, f"session {number}: {what} does not decrypt with ENCRYPTION_KEY"
            ) from None
    channel = parse_id(text)
    if channel is None:
        raise ConfigError(path, f"session {number}: {id_problem(text, what)}")
    return channel


def _entry(number: str, value: object, fernet: Fernet | None, path: Path) -> SessionSettings:
    if not isinstance(value, dict):
        return SessionSettings(channel_id=_plain_id(value, "channel id", number, fernet, path))
    try:
        stored = msgspec.convert(value, _Stored)
    except msgspec.ValidationError as exc:
        raise ConfigError(path, f"session {number}: {exc}") from None
    parent = 0
    if stored.parent_channel_id not in ("", 0):
        parent = _plain_id(stored.parent_channel_id, "parent channel id", number, fernet, path)
    for label, directory in (("work_dir", stored.work_dir), ("worktree", stored.worktree)):
        if directory and not Path(directory).is_absolute():
            raise ConfigError(path, f"session {number}: {label} must be an absolute path")
    if stored.kind == "thread" and not parent:
        raise ConfigError(path, f"session {number}: a thread needs its parent_channel_id")
    settings = SessionSettings(
        channel_id=_plain_id(stored.channel_id, "channel id", number, fernet, path),
        name=stored.name,
        work_dir=stored.work_dir,
        kind=stored.kind,
        parent_channel_id=parent,
        worktree=stored.worktree,
        threads=stored.threads,
    )
    return msgspec.structs.replace(settings, host=stored.host) if stored.host else settings


def load_entries(path: Path, key: str | None = None) -> dict[int, SessionSettings]:
    """Session number -> record; a missing file is no sessions, a bad one an error."""
    raw = _read(path)
    if raw is None:
        return {}
    fernet = _fernet(key, path)
    entries: dict[int, SessionSettings] = {}
    for number, value in raw.items():
        session = parse_id(number) if isinstance(number, str) else None
        if session is None:
            raise ConfigError(path, id_problem(str(number), "session number"))
        entries[session] = _entry(number, value, fernet, path)
    channels = [entry.channel_id for entry in entries.values()]
    if len(set(channels)) != len(channels):
        raise ConfigError(path, "a channel is mapped to more than one session")
    return entries


def load_sessions(path: Path, key: str | None = None) -> dict[int, int]:
    """Session number -> channel id (what most readers need)."""
    return {n: entry.channel_id for n, entry in load_entries(path, key).items()}


def is_plain(stored: str) -> bool:
    """A channel id stored as digits (a Fernet token never is)."""
    return stored.isascii() and stored.isdigit()


def is_token(stored: str) -> bool:
    """Looks like a Fernet token: url-safe base64 starting with its version byte 0x80."""
    return stored.isascii() and stored.startswith("gAAAAA")


def _stored_form(entry: SessionSettings, fernet: Fernet | None) -> str | dict[str, Any]:
    def hide(channel: int) -> str:
        return fernet.encrypt(str(channel).encode()).decode() if fernet else str(channel)

    record: dict[str, Any] = msgspec.to_builtins(entry)  # omits the defaults
    if set(record) == {"channel_id"}:
        return hide(entry.channel_id)  # the original form: readable by older bridges
    for field in ID_FIELDS:
        if field in record:
            record[field] = hide(record[field])
    return record


def save_entries(
    path: Path, entries: Mapping[int, SessionSettings], key: str | None = None
) -> None:
    fernet = _fernet(key, path)
    data = {str(n): _stored_form(entry, fernet) for n, entry in sorted(entries.items())}
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode(), mode=0o600)


def save_sessions(path: Path, sessions: Mapping[int, int], key: str | None = None) -> None:
    """Sessions with nothing but their channel (`vai init`, the local demo)."""
    entries = {n: SessionSettings(channel_id=c) for n, c in sessions.items()}
    save_entries(path, entries, key)


def next_session_number(sessions: Mapping[int, object]) -> int:
    """The lowest free number (seed design: numbered sessions, DR-001)."""
    number = 1
    while number in sessions:
        number += 1
    return number
