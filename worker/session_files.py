"""run/session-N/: everything a session's Claude needs from the bridge, and nothing else.

When Claude runs as its own OS user, that user reaches the bridge only through this
folder (owner: the bridge's user; group: Claude's user's group; 0750): the hook socket
(0660), the spool (0660, made here since Claude's user may not create files in the
folder), the Claude settings (0640), the session's key (0640), and copies of the two
stdlib-only clients a pane runs, the hook client and `dp` (bin/dp, first on the pane's
PATH). Without a Claude user everything is the bridge's alone (0700 / 0600, bin/dp 0700).

The key is made once per session folder and kept across workers: Claude reads it at
every event, and a spooled event must still pass when the next worker replays it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from vai.common.atomic import write_atomic
from vai.protocol.layout import Layout

HERE = Path(__file__).resolve().parent
HOOK_CLIENT_SOURCE = HERE / "hook_client.py"
PANE_DP_SOURCE = HERE / "pane_dp.py"


class SessionFilesError(RuntimeError):
    """The session folder cannot be given to Claude's user (the bridge is not allowed)."""


class SessionFiles:
    def __init__(self, layout: Layout, session: int, group: int | None, python: str) -> None:
        self.layout = layout
        self.session = session
        self.group = group
        self.python = python
        self.folder = layout.session_run_dir(session)

    def mode(self, shared: int, private: int) -> int:
        return private if self.group is None else shared

    def prepare(self) -> bytes:
        """Make the folder and its files with their modes; return the session's key."""
        try:
            self._directory(self.folder)
            self._directory(self.layout.pane_bin(self.session))
            key = self._key()
            self._spool()
            self._clients()
        except PermissionError as exc:
            raise SessionFilesError(
                f"cannot give {self.folder} to group {self.group}: {exc.strerror}"
                " (the bridge's user must be root or a member of that group; `vai doctor`)"
            ) from None
        return key

    def _directory(self, path: Path) -> None:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._own(path)
        os.chmod(path, self.mode(0o750, 0o700))

    def _own(self, path: Path) -> None:
        if self.group is not None and path.stat().st_gid != self.group:
            os.chown(path, -1, self.group)

    def _key(self) -> bytes:
        path = self.layout.hook_key(self.session)
        try:
            key = path.read_bytes().strip()
        except FileNotFoundError:
            key = b""
        if len(key) < 32 or not key.isalnum():
            key = secrets.token_hex(32).encode()
            write_atomic(path, key + b"\n", self.mode(0o640, 0o600), self.group)
        else:
            self._own(path)
            os.chmod(path, self.mode(0o640, 0o600))
        return key

    def _spool(self) -> None:
        path = self.layout.hook_spool(self.session)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.close(fd)
        self._own(path)
        os.chmod(path, self.mode(0o660, 0o600))

    def _clients(self) -> None:
        """The hook client and `dp` (for Claude's user: world-readable code, no secret)."""
        write_atomic(
            self.layout.hook_client(self.session),
            HOOK_CLIENT_SOURCE.read_bytes(),
            self.mode(0o644, 0o600),
            self.group,
        )
        source = PANE_DP_SOURCE.read_bytes()
        body = source.split(b"\n", 1)[1] if source.startswith(b"#!") else source
        shebang = f"#!{self.python} -IS\n".encode()
        mode = self.mode(0o755, 0o700)
        write_atomic(self.layout.pane_dp(self.session), shebang + body, mode, self.group)

    def write_settings(self, data: bytes) -> Path:
        path = self.layout.claude_settings(self.session)
        write_atomic(path, data, self.mode(0o640, 0o600), self.group)
        return path
