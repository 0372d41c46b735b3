"""`vai encrypt-sessions` and `vai decrypt-sessions`: migrate sessions.json either way.

With ENCRYPTION_KEY set, the bridge writes channel ids Fernet-encrypted (seed DR-003) but
still reads plain ones, so an existing file stays plain until the next change. These
commands migrate it now: encrypt every plain id with the key, or decrypt every id back
to plain. A file that cannot be read, or an id the key does not open, is reported and the
file is left untouched; the new file is written atomically and read back before the
command says it is done. `--generate-key` makes a key and stores it in .env (mode 0600).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from vai.common.atomic import write_atomic
from vai.common.errors import BridgeError, ConfigError
from vai.protocol.session_settings import SessionSettings
from vai.supervisor.config import Config, parse_env_file
from vai.supervisor.sessions_file import (
    is_plain,
    load_entries,
    rewrite_ids,
    save_entries,
    stored_ids,
)

KEY_ENV = "ENCRYPTION_KEY"


@dataclass(frozen=True)
class Migration:
    path: Path
    ids: int  # channel ids in the file (a thread's parent counts too)
    changed: int  # ids that changed form

    @property
    def written(self) -> bool:
        return self.changed > 0


def _check_key(key: str, path: Path) -> None:
    from cryptography.fernet import Fernet  # only here: see sessions_file._fernet

    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        raise ConfigError(
            path, f"{KEY_ENV} is not a valid Fernet key (32 url-safe base64 bytes)"
        ) from None


def encrypt_sessions(path: Path, key: str | None) -> Migration:
    if not key:
        raise BridgeError(
            f"{KEY_ENV} is not set: put one in .env (or run `vai encrypt-sessions"
            " --generate-key` to make one), then run this again"
        )
    _check_key(key, path)
    sessions = load_entries(path, key)  # plain and already-encrypted ids alike
    if not path.exists():
        return Migration(path, 0, 0)
    stored = stored_ids(path)
    plain = [value for value in stored if is_plain(value)]
    if plain:
        from cryptography.fernet import Fernet

        fernet = Fernet(key.encode())
        rewrite_ids(
            path,
            lambda value: fernet.encrypt(value.encode()).decode() if is_plain(value) else value,
        )
        _verify(path, sessions, key, want_plain=False)
    return Migration(path, len(stored), len(plain))


def decrypt_sessions(path: Path, key: str | None) -> Migration:
    if not path.exists():
        return Migration(path, 0, 0)
    if key:
        _check_key(key, path)
    sessions = load_entries(path, key)  # says which id needs the key, if any
    stored = stored_ids(path)
    encrypted = [value for value in stored if not is_plain(value)]
    if encrypted:
        save_entries(path, sessions, None)
        _verify(path, sessions, None, want_plain=True)
    return Migration(path, len(stored), len(encrypted))


def _verify(
    path: Path, sessions: dict[int, SessionSettings], key: str | None, *, want_plain: bool
) -> None:
    again = load_entries(path, key)
    if again != sessions or any(is_plain(v) != want_plain for v in stored_ids(path)):
        raise BridgeError(f"{path}: the rewritten file does not read back the same; check it")


def generate_key(env_file: Path) -> str:
    """A new key appended to .env (atomically, mode 0600); refuses to replace one."""
    if KEY_ENV in parse_env_file(env_file):
        raise BridgeError(f"{env_file} already has {KEY_ENV}; not replacing it")
    from cryptography.fernet import Fernet

    key = Fernet.generate_key().decode()
    try:
        old = env_file.read_text(encoding="utf-8")
    except FileNotFoundError:
        old = ""
    if old and not old.endswith("\n"):
        old += "\n"
    env_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    write_atomic(env_file, f"{old}{KEY_ENV}={key}\n".encode(), mode=0o600)
    return key


# -- the commands ---------------------------------------------------------------------------


def setup_encrypt(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--generate-key",
        action="store_true",
        help=f"make a new {KEY_ENV} and store it in .env first (when none is set)",
    )


def cmd_encrypt(args: argparse.Namespace, config: Config) -> int:
    key = config.encryption_key
    path = config.layout.sessions_file
    if getattr(args, "generate_key", False):
        if key:
            raise BridgeError(f"{KEY_ENV} is already set; not generating another")
        key = generate_key(config.layout.env_file)
        print(f"stored a new {KEY_ENV} in {config.layout.env_file}; keep a copy somewhere safe")
    result = encrypt_sessions(path, key)
    if result.written:
        print(f"encrypted {result.changed} of {result.ids} channel ids in {path}")
    else:
        print(f"nothing to do: the {result.ids} channel ids in {path} are already encrypted")
    return 0


def cmd_decrypt(args: argparse.Namespace, config: Config) -> int:
    path = config.layout.sessions_file
    result = decrypt_sessions(path, config.encryption_key)
    if result.written:
        print(f"decrypted {result.changed} of {result.ids} channel ids in {path}")
    else:
        print(f"nothing to do: the {result.ids} channel ids in {path} are already plain")
    if config.encryption_key:
        print(
            f"note: {KEY_ENV} is still set; remove it from {config.layout.env_file} (and the"
            " environment), or the supervisor encrypts the ids again on the next change"
        )
    return 0


ENCRYPT_HELP = """Encrypt the channel ids in sessions.json with ENCRYPTION_KEY (Fernet).

Only plain ids are rewritten; ids already encrypted with the key stay as they are. With
--generate-key, a new key is made and stored in .env first (when none is set): keep a
copy of it, since the ids cannot be read without it.
"""

DECRYPT_HELP = """Decrypt the channel ids in sessions.json back to plain numbers.

Needs the ENCRYPTION_KEY they were encrypted with. Remove the key from .env afterwards,
or the supervisor encrypts the ids again on the next change.
"""


def command_modules() -> dict[str, ModuleType]:
    """`vai encrypt-sessions` and `vai decrypt-sessions` in the form supervisor.cli loads
    (a docstring, `setup(parser)`, `execute(args, ctx)`)."""

    def command(name: str, doc: str, setup: Any, run: Any) -> ModuleType:
        module = ModuleType(f"{__name__}.{name}", doc)
        module.setup = setup  # type: ignore[attr-defined]
        module.execute = lambda args, ctx: run(args, ctx.config)  # type: ignore[attr-defined]
        return module

    return {
        "encrypt-sessions": command("encrypt", ENCRYPT_HELP, setup_encrypt, cmd_encrypt),
        "decrypt-sessions": command("decrypt", DECRYPT_HELP, lambda parser: None, cmd_decrypt),
    }
