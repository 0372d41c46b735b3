"""The CURVE keypairs of the hub and of each host agent, each in a 0600 file of its own.

`vai init --host` makes the host's (the secret never leaves the host; the public key is
printed for `[hub.hosts.NAME]` on the hub), the hub makes its own at its first start with
`[hub] listen`. The file is two lines, `public = "<z85>"` and `secret = "<z85>"` (TOML).
"""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import zmq

from vai.common.atomic import write_atomic
from vai.common.bus_auth import ServerKeys
from vai.common.errors import ConfigError

Z85_KEY_LENGTH = 40


def valid_key(text: str) -> bool:
    """A z85-encoded CURVE key (40 characters that decode to 32 bytes)."""
    if len(text) != Z85_KEY_LENGTH:
        return False
    try:
        from zmq.utils import z85

        return len(z85.decode(text.encode())) == 32
    except (ValueError, KeyError, UnicodeEncodeError):
        return False


def read_keypair(path: Path) -> ServerKeys:
    try:
        mode = path.stat().st_mode
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(path, "no keypair: run `vai init --host` on this machine") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(path, f"cannot read the keypair: {exc}") from None
    if stat.S_IMODE(mode) & 0o077:
        raise ConfigError(path, "the keypair is readable by others: chmod 600 it")
    public, secret = raw.get("public"), raw.get("secret")
    if not (isinstance(public, str) and isinstance(secret, str)):
        raise ConfigError(path, "expected `public` and `secret` keys")
    if not (valid_key(public) and valid_key(secret)):
        raise ConfigError(path, "the keys are not z85 CURVE keys")
    return ServerKeys(public.encode(), secret.encode())


def write_keypair(path: Path) -> ServerKeys:
    public, secret = zmq.curve_keypair()
    text = f'public = "{public.decode()}"\nsecret = "{secret.decode()}"\n'
    write_atomic(path, text.encode(), mode=0o600)
    return ServerKeys(public, secret)


def load_or_create(path: Path) -> tuple[ServerKeys, bool]:
    """The keypair in `path`, made first if there is none; True when made now."""
    if path.exists():
        return read_keypair(path), False
    return write_keypair(path), True
