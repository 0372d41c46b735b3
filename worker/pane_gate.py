"""Who may speak on a session's hook socket: that session's Claude, and nobody else.

Every connection (a hook event, a status-line reading, or `dp` inside the pane) starts
with one header line, `vai1 <kind> <key>`, where the key is the session's secret
(run/session-N/hook.key, which only the bridge and the session's Claude user can read).
The gate also asks the kernel who connected (SO_PEERCRED): the uid must be the session's
Claude user's, and the process must descend from the session's pane (so another pane of a
shared user, holding the same group, still cannot speak for this one). Spooled events
carry the key too; their writer is gone by the time they are replayed, so only the key is
checked then.

Pure apart from reading /proc: the rules are tested without processes.
"""

from __future__ import annotations

import hmac
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

HEADER_MAGIC = b"vai1"
HEADER_MAX = 256  # bytes, newline included
KINDS = frozenset({"hook", "post", "status"})
# Process ancestry is followed this far up before giving up.
MAX_DEPTH = 64


@dataclass(frozen=True)
class Peer:
    """The process at the other end of a Unix socket, as the kernel saw it connect."""

    pid: int
    uid: int
    gid: int

    def __str__(self) -> str:
        return f"uid {self.uid} pid {self.pid}"


@dataclass(frozen=True)
class Header:
    kind: str
    key: bytes


def peer_of(sock: socket.socket) -> Peer:
    """SO_PEERCRED of a connected Unix socket."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    pid, uid, gid = struct.unpack("3i", raw)
    return Peer(pid=pid, uid=uid, gid=gid)


def parse_header(line: bytes) -> Header | str:
    """The header line, or why it is not one."""
    if line.lstrip().startswith(b"{"):
        return "no key (a bare hook payload)"
    if not line.endswith(b"\n"):
        return "no header line"
    parts = line.rstrip(b"\r\n").split(b" ")
    if len(parts) != 3 or parts[0] != HEADER_MAGIC:
        return "not a vai1 header"
    kind = parts[1].decode("ascii", "replace")
    if kind not in KINDS:
        return f"unknown kind {kind!r}"
    return Header(kind=kind, key=parts[2])


def key_matches(given: bytes, key: bytes) -> bool:
    return bool(key) and hmac.compare_digest(given, key)


def parent_of(pid: int) -> int | None:
    """The parent pid from /proc/PID/stat (None once the process is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            stat = handle.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: the fields start after the last ')'.
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        return int(fields[1])
    except (IndexError, ValueError):
        return None


def descends_from(pid: int, ancestor: int, parent: Callable[[int], int | None] = parent_of) -> bool:
    """Whether `pid` is `ancestor` or one of its descendants."""
    current: int | None = pid
    for _ in range(MAX_DEPTH):
        if current is None or current <= 1:
            return False
        if current == ancestor:
            return True
        current = parent(current)
    return False


@dataclass(frozen=True)
class Gate:
    """The rules for one session: its key, its Claude's uid."""

    key: bytes
    uid: int

    def refuse_live(
        self,
        peer: Peer,
        header: Header | str,
        pane_pid: int | None,
        parent: Callable[[int], int | None] = parent_of,
    ) -> str:
        """Why a connection is refused ("" when it is let in)."""
        if isinstance(header, str):
            return header
        if not key_matches(header.key, self.key):
            return "wrong key"
        if peer.uid != self.uid:
            return f"uid {peer.uid} is not the session's Claude user (uid {self.uid})"
        if pane_pid is None:
            return "the session's pane is not running"
        if not descends_from(peer.pid, pane_pid, parent):
            return f"pid {peer.pid} is not a process of the session's pane (pid {pane_pid})"
        return ""

    def refuse_spooled(self, line: bytes) -> tuple[bytes, str]:
        """A spool line, `KEY PAYLOAD`: the payload, or why it is refused."""
        given, sep, payload = line.partition(b" ")
        if not sep or given.startswith(b"{"):
            return b"", "no key (a bare hook payload)"
        if not key_matches(given, self.key):
            return b"", "wrong key"
        return payload, ""
