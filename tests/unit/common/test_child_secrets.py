"""Secrets through an inherited pipe: read once, whole, and the descriptor closed."""

from __future__ import annotations

import os

import pytest

from vai.common.bus_auth import ServerKeys
from vai.common.child_secrets import ChildSecrets, SecretsError, read_secrets, secrets_pipe


def test_the_secrets_are_read_once_and_the_pipe_is_closed() -> None:
    keys = ServerKeys.new().client_keys("session-1/abc")
    with secrets_pipe(ChildSecrets(bus=keys, bot_token="t0ken")) as fd:
        duplicate = os.dup(fd)  # what a child inherits
    with pytest.raises(OSError):
        os.fstat(fd)  # the parent's end is closed once the child has started
    secrets = read_secrets(duplicate)
    assert secrets.bus == keys and secrets.bot_token == "t0ken"
    with pytest.raises(OSError):
        os.fstat(duplicate)  # and the child's, once read


def test_a_process_started_without_its_secrets_says_so() -> None:
    with pytest.raises(SecretsError, match="only the supervisor"):
        read_secrets(-1)
    read, write = os.pipe()
    os.write(write, b"not msgpack secrets")
    os.close(write)
    with pytest.raises(SecretsError, match="held no secrets"):
        read_secrets(read)
    closed, other = os.pipe()
    os.close(closed)
    os.close(other)
    with pytest.raises(SecretsError, match="cannot read"):
        read_secrets(closed)
