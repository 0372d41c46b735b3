"""sessions.json in the original format, `{"1": "<channel id>"}`, written atomically.

A session placed on another host (issue 15) is a record instead:
`{"2": {"channel": "<channel id>", "host": "gpu-box"}}`; a session without a host runs on
the hub's own machine, so a single-machine file never changes form.

When ENCRYPTION_KEY is set the channel ids are stored Fernet-encrypted (seed DR-003);
plain ids are still read, so a file can be migrated either way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vai.common.atomic import write_atomic
from vai.common.errors import ConfigError
from vai.protocol.ids import id_problem, parse_id

if TYPE_CHECKING:
    from cryptography.fernet import Fernet


def _fernet(key: str | None, path: Path) -> Fernet | None:
    """Imported only with a key: cryptography costs every process ~8 MB and ~0.15 s."""
    if not key:
        return None
    from cryptography.fernet import Fernet

    try:
        return Fernet(key.encode())
    except (ValueError, TypeError):
        raise ConfigError(path, "ENCRYPTION_KEY is not a valid Fernet key") from None


def _read(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, f"cannot read: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(path, f"invalid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(path, 'expected an object like {"1": "<channel id>"}')
    return raw


def load_hosts(path: Path) -> dict[int, str]:
    """Session number -> the host it is placed on, for the sessions that name one."""
    hosts: dict[int, str] = {}
    for number, value in _read(path).items():
        session = parse_id(number) if isinstance(number, str) else None
        host = value.get("host") if isinstance(value, dict) else None
        if session is not None and isinstance(host, str) and host:
            hosts[session] = host
    return hosts


def load_sessions(path: Path, key: str | None = None) -> dict[int, int]:
    """Session number -> channel id; a missing file is no sessions, a bad one an error."""
    raw = _read(path)
    fernet = _fernet(key, path)
    sessions: dict[int, int] = {}
    for number, entry in raw.items():
        value = entry.get("channel") if isinstance(entry, dict) else entry
        session = parse_id(number) if isinstance(number, str) else None
        if session is None:
            raise ConfigError(path, id_problem(str(number), "session number"))
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise ConfigError(path, f"session {number}: channel id must be a string")
        text = str(value)
        if not is_plain(text) and is_token(text):
            if fernet is None:
                raise ConfigError(
                    path, f"session {number}: channel id is encrypted but ENCRYPTION_KEY is not set"
                )
            from cryptography.fernet import InvalidToken

            try:
                text = fernet.decrypt(text.encode()).decode()
            except InvalidToken:
                raise ConfigError(
                    path, f"session {number}: channel id does not decrypt with ENCRYPTION_KEY"
                ) from None
        channel = parse_id(text)
        if channel is None:
            raise ConfigError(path, f"session {number}: {id_problem(text, 'channel id')}")
        sessions[session] = channel
    channels = list(sessions.values())
    if len(set(channels)) != len(channels):
        raise ConfigError(path, "a channel is mapped to more than one session")
    return sessions


def is_plain(stored: str) -> bool:
    """A channel id stored as digits (a Fernet token never is)."""
    return stored.isascii() and stored.isdigit()


def is_token(stored: str) -> bool:
    """Looks like a Fernet token: url-safe base64 starting with its version byte 0x80."""
    return stored.isascii() and stored.startswith("gAAAAA")


def save_sessions(
    path: Path,
    sessions: dict[int, int],
    key: str | None = None,
    hosts: Mapping[int, str] | None = None,
) -> None:
    """Write the file; `hosts` None keeps the hosts the file names (for the sessions kept)."""
    fernet = _fernet(key, path)
    if hosts is None:
        try:
            hosts = load_hosts(path)
        except ConfigError:
            hosts = {}
    data: dict[str, object] = {}
    for number, channel in sorted(sessions.items()):
        stored = fernet.encrypt(str(channel).encode()).decode() if fernet else str(channel)
        host = hosts.get(number)
        data[str(number)] = {"channel": stored, "host": host} if host else stored
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode(), mode=0o600)


def next_session_number(sessions: dict[int, int]) -> int:
    """The lowest free number (seed design: numbered sessions, DR-001)."""
    number = 1
    while number in sessions:
        number += 1
    return number
