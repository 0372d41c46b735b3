"""What the inbox stores for a channel id and a message, with or without ENCRYPTION_KEY.

Without a key everything is stored as it is. With one (seed DR-003 encrypts the channel
ids of sessions.json), the inbox must not undo that: a row's channel column holds a keyed
hash of the id (HMAC-SHA256 with a key derived from ENCRYPTION_KEY, 63 bits), which still
groups and finds a channel's rows, and each payload (a message or a reply, which name the
channel and carry its text) is a Fernet token. Ids are mapped back from hashes only for
channels the supervisor knows. Plain rows written before the key was set still read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

FERNET_PREFIX = b"gAAAAA"  # a token's version byte (0x80), base64: never msgpack's first byte


class SealError(ValueError):
    """A stored payload that this key (or no key) cannot open."""


class InboxPrivacy:
    def __init__(self, key: str | None) -> None:
        self.enabled = bool(key)
        self._fernet: Fernet | None = None
        self._id_key = b""
        if key:
            from cryptography.fernet import Fernet

            self._fernet = Fernet(key.encode())
            raw = base64.urlsafe_b64decode(key.encode())
            self._id_key = hmac.new(raw, b"vai inbox channel ids", hashlib.sha256).digest()

    def channel_column(self, channel_id: int) -> int:
        """What the channel_id column holds for `channel_id`."""
        if not self.enabled:
            return channel_id
        digest = hmac.new(self._id_key, str(channel_id).encode(), hashlib.sha256).digest()
        return int.from_bytes(digest[:8], "big") >> 1  # 63 bits: a positive SQLite integer

    def seal(self, payload: bytes) -> bytes:
        return payload if self._fernet is None else self._fernet.encrypt(payload)

    def open(self, stored: bytes) -> bytes:
        if not is_sealed(stored):
            return stored
        if self._fernet is None:
            raise SealError("it holds messages encrypted with ENCRYPTION_KEY, which is not set")
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(stored)
        except InvalidToken:
            raise SealError("its messages do not decrypt with this ENCRYPTION_KEY") from None


def is_sealed(stored: bytes) -> bool:
    return stored.startswith(FERNET_PREFIX)
