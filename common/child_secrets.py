"""Secrets handed to a child at spawn, through an inherited pipe: never argv, never the
environment (both readable in /proc by every process of the same user, and inherited by
everything the child starts).

The parent writes the secrets into a pipe and closes its write end before the child
starts; the child gets the read end (pass_fds) and its number (in its spec), reads it to
the end once at start-up and closes it. Nothing of it is left to inherit or to read again.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import msgspec

from vai.common.bus_auth import ClientKeys

# Far more than the secrets take, far less than a pipe holds (64 KiB): writing never blocks.
MAX_SIZE = 16 * 1024


class ChildSecrets(msgspec.Struct, frozen=True, kw_only=True):
    bus: ClientKeys
    bot_token: str = ""  # the gateway's alone


class SecretsError(Exception):
    """The child was started without its secrets (not by the supervisor)."""


@contextlib.contextmanager
def secrets_pipe(secrets: ChildSecrets) -> Iterator[int]:
    """The read end of a pipe that holds `secrets`, for the child to inherit; closed here
    once the child is started (the block ends)."""
    data = msgspec.msgpack.encode(secrets)
    if len(data) > MAX_SIZE:
        raise ValueError(f"child secrets too large ({len(data)} bytes)")
    read, write = os.pipe()  # neither end inheritable but through pass_fds
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(write, view) :]
    except BaseException:
        os.close(read)
        raise
    finally:
        os.close(write)
    try:
        yield read
    finally:
        os.close(read)


def read_secrets(fd: int) -> ChildSecrets:
    """Read the secrets from inherited fd `fd`, once, and close it."""
    if fd < 0:
        raise SecretsError("no secrets pipe (only the supervisor starts this process)")
    chunks: list[bytes] = []
    try:
        while chunk := os.read(fd, MAX_SIZE):
            chunks.append(chunk)
    except OSError as exc:
        raise SecretsError(f"cannot read the secrets pipe (fd {fd}): {exc}") from None
    finally:
        with contextlib.suppress(OSError):
            os.close(fd)
    try:
        return msgspec.msgpack.decode(b"".join(chunks), type=ChildSecrets)
    except msgspec.DecodeError as exc:
        raise SecretsError(f"the secrets pipe held no secrets: {exc}") from None
