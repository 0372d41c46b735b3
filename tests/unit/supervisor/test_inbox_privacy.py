"""The inbox with ENCRYPTION_KEY: no channel id in plain text, everything still found."""

from __future__ import annotations

import os
import sqlite3
import stat
import struct
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from vai.common.errors import ConfigError
from vai.protocol.messages import Author, ChatMessage, PostReply
from vai.supervisor.inbox import Inbox

CHANNEL_A = 1234567890123456789
CHANNEL_B = 987654321098765432
KEY = Fernet.generate_key().decode()


def chat(message_id: int, channel: int, text: str = "secret text") -> ChatMessage:
    return ChatMessage(
        message_id=message_id, channel_id=channel, author=Author(id=5, name="al"), content=text
    )


def raw_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(f"{path.name}*"))


def plain_forms(channel: int) -> list[bytes]:
    return [str(channel).encode(), struct.pack(">Q", channel)]


def test_with_a_key_no_id_or_text_is_stored_plain_and_all_is_found(tmp_path: Path) -> None:
    path = tmp_path / "state" / "inbox.sqlite3"
    inbox = Inbox(path, KEY)
    inbox.start_cursor(CHANNEL_A, 100)
    inbox.start_cursor(CHANNEL_B, 50)
    assert inbox.add_messages([(1, chat(500, CHANNEL_A)), (2, chat(600, CHANNEL_B))]) == [
        True,
        True,
    ]
    inbox.add_reply(PostReply(reply_id="r1", channel_id=CHANNEL_B, text="answer text"))
    assert [m.content for m, _ in inbox.open_messages(1)] == ["secret text"]
    assert inbox.channel_of(600) == CHANNEL_B
    assert inbox.last_message_ids() == {CHANNEL_A: 500, CHANNEL_B: 600}
    assert [r.channel_id for r in inbox.unposted_replies()] == [CHANNEL_B]
    inbox.close()

    data = raw_bytes(path)
    for channel in (CHANNEL_A, CHANNEL_B):
        for form in plain_forms(channel):
            assert form not in data
    assert b"secret text" not in data and b"answer text" not in data

    again = Inbox(path, KEY)  # a new supervisor knows its sessions' channels again
    again.start_cursor(CHANNEL_A, 999)
    again.start_cursor(CHANNEL_B, 999)
    assert again.last_message_ids() == {CHANNEL_A: 500, CHANNEL_B: 600}
    assert [m.message_id for m, _ in again.open_messages(2)] == [600]
    again.close()


def test_rows_from_before_the_key_still_read(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite3"
    plain = Inbox(path)
    plain.start_cursor(CHANNEL_A, 100)
    plain.add_messages([(1, chat(500, CHANNEL_A, "old"))])
    plain.close()
    keyed = Inbox(path, KEY)
    keyed.start_cursor(CHANNEL_A, 100)
    keyed.add_messages([(1, chat(400, CHANNEL_A, "new"))])
    assert [m.content for m, _ in keyed.open_messages(1)] == ["old", "new"]
    assert keyed.last_message_ids() == {CHANNEL_A: 500}
    assert keyed.channel_of(500) == CHANNEL_A
    keyed.close()


@pytest.mark.parametrize("key", [None, Fernet.generate_key().decode()])
def test_sealed_messages_without_their_key_stop_the_start_clearly(
    tmp_path: Path, key: str | None
) -> None:
    path = tmp_path / "inbox.sqlite3"
    inbox = Inbox(path, KEY)
    inbox.add_messages([(1, chat(500, CHANNEL_A))])
    inbox.close()
    with pytest.raises(ConfigError, match="ENCRYPTION_KEY"):
        Inbox(path, key)


def test_the_inbox_files_are_0600_whatever_the_umask(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite3"
    previous = os.umask(0)
    try:
        inbox = Inbox(path)
        inbox.add_messages([(1, chat(500, CHANNEL_A))])
        files = sorted(tmp_path.glob("inbox.sqlite3*"))
        names = [f.name for f in files]
        assert names == ["inbox.sqlite3", "inbox.sqlite3-shm", "inbox.sqlite3-wal"]
        assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
        inbox.close()
    finally:
        os.umask(previous)


def test_an_existing_inbox_with_a_loose_mode_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "inbox.sqlite3"
    sqlite3.connect(path).close()
    path.chmod(0o644)
    Inbox(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
