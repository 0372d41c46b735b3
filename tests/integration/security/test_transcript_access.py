"""Claude's transcript, as the worker reads it when Claude runs as its own user: only a
regular file that user owns, never through a link to the bridge's files, never blocking
on a FIFO; and by a reader running as that user when the bridge itself may not open it
(the real CLI writes transcripts 0600; a service user bridge is not root)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.users import local_users, needs_root
from vai.worker.transcript import has_conversation
from vai.worker.transcript_access import Owner, read_as, read_transcript

pytestmark = [pytest.mark.timeout(60), needs_root]

LINE = b'{"type":"user","message":{"content":"hi"}}\n'


def test_only_claudes_own_regular_files_are_read(short_tmp: Path) -> None:
    with local_users(short_tmp / "homes", 1) as (user,):
        owner = Owner(uid=user.uid, gid=user.gid)
        home = Path(user.home)
        mine = home / "t.jsonl"
        mine.write_bytes(LINE)
        os.chown(mine, user.uid, user.gid)
        mine.chmod(0o600)
        assert read_transcript(mine, 0, owner) == LINE
        assert has_conversation(mine, owner)
        assert read_transcript(mine, len(LINE), owner) == b""

        secret = short_tmp / "bridge-secret.jsonl"  # the bridge's, with transcript lines
        secret.write_bytes(LINE)
        (home / "link.jsonl").symlink_to(secret)
        assert read_transcript(home / "link.jsonl", 0, owner) == b""
        assert not has_conversation(home / "link.jsonl", owner)
        assert read_transcript(secret, 0, None) == LINE  # without a Claude user: as before

        fifo = home / "fifo.jsonl"
        os.mkfifo(fifo)
        os.chown(fifo, user.uid, user.gid)
        assert read_transcript(fifo, 0, owner) == b""  # returns at once


def test_a_bridge_that_may_not_open_it_reads_it_as_claudes_user(
    short_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with local_users(short_tmp / "homes", 1) as (user,):
        for folder in (short_tmp, short_tmp / "homes"):
            folder.chmod(0o711)
        owner = Owner(uid=user.uid, gid=user.gid)
        private = Path(user.home) / "private"
        private.mkdir(mode=0o700)
        path = private / "t.jsonl"
        path.write_bytes(LINE * 2)
        for item in (private, path):
            os.chown(item, user.uid, user.gid)
        path.chmod(0o600)
        assert read_as(owner, path, len(LINE)) == LINE
        assert read_as(owner, short_tmp / "nowhere", 0) == b""
        os.chown(short_tmp / "homes", 0, 0)
        (short_tmp / "bridge.jsonl").write_bytes(LINE)
        (short_tmp / "bridge.jsonl").chmod(0o600)
        assert read_as(owner, short_tmp / "bridge.jsonl", 0) == b""  # not Claude's to read

        real_open = os.open

        def refused(name: str | os.PathLike[str], *args: int, **kwargs: int) -> int:
            if Path(name) == path:  # as a bridge that is not root finds it
                raise PermissionError(13, "Permission denied")
            return real_open(name, *args, **kwargs)

        monkeypatch.setattr(os, "open", refused)
        assert read_transcript(path, 0, owner) == LINE * 2  # through the reader
        assert read_transcript(path, 0, None) == b""
