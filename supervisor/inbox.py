"""The durable inbox and outbox: SQLite in WAL mode with full fsync.

A message is acknowledged to the gateway only after it is committed here, and it leaves
the inbox only when its turn in Claude has ended. Replies are kept until the gateway says
they were posted. Callers batch a loop pass of messages into one transaction (group
commit), so durability costs one fsync per batch rather than per message.

The file is 0600. With ENCRYPTION_KEY set, no channel id is stored in plain text: the
channel columns hold keyed hashes and the payloads are encrypted (supervisor.inbox_privacy).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path

import msgspec

from vai.common.errors import ConfigError
from vai.protocol.messages import ChatMessage, PostReply, PromptStage
from vai.protocol.usage import TurnUsage, UsageTotals
from vai.supervisor.inbox_privacy import InboxPrivacy, SealError, is_sealed
from vai.supervisor.usage_book import UsageBook

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbound (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL UNIQUE,
    session INTEGER NOT NULL,
    channel_id INTEGER NOT NULL,
    payload BLOB NOT NULL,
    stage TEXT NOT NULL DEFAULT 'received',
    received_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS inbound_open ON inbound (session, stage, seq);
CREATE INDEX IF NOT EXISTS inbound_channel ON inbound (channel_id, message_id);
CREATE TABLE IF NOT EXISTS cursors (
    channel_id INTEGER PRIMARY KEY,
    after INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbound (
    reply_id TEXT PRIMARY KEY,
    channel_id INTEGER NOT NULL,
    payload BLOB NOT NULL,
    posted INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS outbound_open ON outbound (posted, created_at);
"""

_OPEN_STAGES = ("received", "accepted")
# The unfinished messages of a removed session: kept (their ids still deduplicate) but
# never open again, so they cannot reach a later session that gets the same number.
_REMOVED = "removed"


class Inbox:
    def __init__(self, path: Path, key: str | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _create_private(path)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._usage = UsageBook(self._db)
        except sqlite3.Error as exc:
            raise ConfigError(path, f"cannot open the inbox: {exc}") from None
        self._encode = msgspec.msgpack.Encoder().encode
        self._decode_message = msgspec.msgpack.Decoder(ChatMessage).decode
        self._decode_reply = msgspec.msgpack.Decoder(PostReply).decode
        self._private = InboxPrivacy(key)
        # channel column -> channel id, for the channels this supervisor knows.
        self._channels: dict[int, int] = {}
        self._check_readable(path)

    def _check_readable(self, path: Path) -> None:
        """Stop at once (one clear line) if what is waiting cannot be read with this key."""
        rows = self._db.execute(
            "SELECT payload FROM inbound WHERE stage IN (?, ?)"
            " UNION ALL SELECT payload FROM outbound WHERE posted = 0",
            _OPEN_STAGES,
        )
        sealed = next((payload for (payload,) in rows if is_sealed(payload)), None)
        if sealed is None:
            return
        try:
            self._private.open(sealed)
        except SealError as exc:
            raise ConfigError(path, f"{exc}: set the key it was written with") from None

    def _column(self, channel_id: int) -> int:
        column = self._private.channel_column(channel_id)
        self._channels[column] = channel_id
        return column

    def _message(self, payload: bytes) -> ChatMessage:
        return self._decode_message(self._private.open(payload))

    def close(self) -> None:
        self._db.close()

    # -- inbound ---------------------------------------------------------------------------

    def add_messages(self, items: Iterable[tuple[int, ChatMessage]]) -> list[bool]:
        """Store (session, message) pairs in one transaction; False marks a duplicate."""
        now = time.time()
        added: list[bool] = []
        with self._transaction():
            for session, message in items:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO inbound"
                    " (message_id, session, channel_id, payload, received_at, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        message.message_id,
                        session,
                        self._column(message.channel_id),
                        self._private.seal(self._encode(message)),
                        now,
                        now,
                    ),
                )
                added.append(cursor.rowcount == 1)
        return added

    def open_messages(self, session: int) -> list[tuple[ChatMessage, PromptStage]]:
        """Messages not yet done, in arrival (channel) order."""
        rows = self._db.execute(
            "SELECT payload, stage FROM inbound WHERE session = ? AND stage IN (?, ?) ORDER BY seq",
            (session, *_OPEN_STAGES),
        ).fetchall()
        return [(self._message(payload), stage) for payload, stage in rows]

    def set_stage(self, message_id: int, stage: PromptStage) -> bool:
        """Move a message forward; never backwards, never out of a final stage."""
        allowed = {"accepted": ("received",), "done": _OPEN_STAGES, "failed": _OPEN_STAGES}
        previous = allowed.get(stage)
        if previous is None:
            return False
        marks = ",".join("?" * len(previous))
        with self._transaction():
            cursor = self._db.execute(
                f"UPDATE inbound SET stage = ?, updated_at = ? WHERE message_id = ?"
                f" AND stage IN ({marks})",
                (stage, time.time(), message_id, *previous),
            )
        return cursor.rowcount == 1

    def queued(self, session: int) -> int:
        row = self._db.execute(
            "SELECT COUNT(*) FROM inbound WHERE session = ? AND stage IN (?, ?)",
            (session, *_OPEN_STAGES),
        ).fetchone()
        return int(row[0])

    def session_of(self, message_id: int) -> int | None:
        """The session a message was stored for (None: no such message)."""
        row = self._db.execute(
            "SELECT session FROM inbound WHERE message_id = ?", (message_id,)
        ).fetchone()
        return None if row is None else int(row[0])

    def channel_of(self, message_id: int) -> int | None:
        row = self._db.execute(
            "SELECT payload FROM inbound WHERE message_id = ?", (message_id,)
        ).fetchone()
        return None if row is None else self._message(row[0]).channel_id

    def start_cursor(self, channel_id: int, after: int) -> None:
        """Where catching up begins for a channel never seen before (its session's start)."""
        with self._transaction():
            self._db.execute(
                "INSERT OR IGNORE INTO cursors (channel_id, after) VALUES (?, ?)",
                (self._column(channel_id), after),
            )

    def last_message_ids(self) -> dict[int, int]:
        """Per channel, the newest message the bridge has (or its start cursor): the gateway
        catches up on anything after it. With a key, only for channels this supervisor
        knows (every session's, from `start_cursor`); rows from before the key count too."""
        rows = self._db.execute(
            "SELECT channel_id, after FROM cursors UNION ALL"
            " SELECT channel_id, MAX(message_id) FROM inbound GROUP BY channel_id"
        ).fetchall()
        last: dict[int, int] = {}
        for column, newest in rows:
            channel = self._channel_of_column(int(column))
            if channel is not None:
                last[channel] = max(int(newest), last.get(channel, 0))
        return last

    def _channel_of_column(self, column: int) -> int | None:
        known = self._channels.get(column)
        if known is not None:
            return known
        if not self._private.enabled or column in self._channels.values():
            return column  # a plain id (no key, or a row from before the key was set)
        return None

    def forget_session(self, session: int, channel_id: int) -> int:
        """A removed session (or a number about to be reused): its unfinished messages
        close for good and the channel's catch-up point goes (mapped again, the channel
        starts afresh). How many messages closed."""
        with self._transaction():
            cursor = self._db.execute(
                "UPDATE inbound SET stage = ?, updated_at = ?"
                " WHERE session = ? AND stage IN (?, ?)",
                (_REMOVED, time.time(), session, *_OPEN_STAGES),
            )
            # Its keyed column, and a plain row from before ENCRYPTION_KEY was set.
            self._db.execute(
                "DELETE FROM cursors WHERE channel_id IN (?, ?)",
                (self._column(channel_id), channel_id),
            )
            self._usage.forget(session)
        return cursor.rowcount

    # -- token use (supervisor/usage_book.py) ----------------------------------------------

    def add_usage(self, session: int, turn_id: str, usage: TurnUsage) -> bool:
        with self._transaction():
            return self._usage.add(session, turn_id, usage)

    def usage_totals(self) -> dict[int, UsageTotals]:
        return self._usage.totals()

    # -- outbound --------------------------------------------------------------------------

    def add_reply(self, reply: PostReply) -> bool:
        with self._transaction():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO outbound (reply_id, channel_id, payload, created_at)"
                " VALUES (?, ?, ?, ?)",
                (
                    reply.reply_id,
                    self._column(reply.channel_id),
                    self._private.seal(self._encode(reply)),
                    time.time(),
                ),
            )
        return cursor.rowcount == 1

    def unposted_replies(self) -> list[PostReply]:
        rows = self._db.execute(
            "SELECT payload FROM outbound WHERE posted = 0 ORDER BY rowid"
        ).fetchall()
        return [self._decode_reply(self._private.open(payload)) for (payload,) in rows]

    def mark_posted(self, reply_id: str) -> None:
        with self._transaction():
            self._db.execute("UPDATE outbound SET posted = 1 WHERE reply_id = ?", (reply_id,))

    # -- internals -------------------------------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


def _create_private(path: Path) -> None:
    """The database file exists with mode 0600 before SQLite opens it (its -wal and -shm
    take the database's mode), whatever the umask."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return  # SQLite says what is wrong, in the caller's words
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
