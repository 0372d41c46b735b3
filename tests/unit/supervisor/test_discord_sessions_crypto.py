"""`vai encrypt-sessions` / `vai decrypt-sessions`: sessions.json migrated both ways, safely."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from vai.supervisor.cli import main as vai
from vai.supervisor.sessions_file import load_sessions

SESSIONS = {1: 1_100_000_000_000_000_001, 2: 1_100_000_000_000_000_002}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VAI_HOME", str(tmp_path))
    monkeypatch.delenv("ENCRYPTION_KEY", raising=False)
    monkeypatch.delenv("DISCORD_BOT_TOKEN", raising=False)
    (tmp_path / "sessions.json").write_text(
        json.dumps({str(k): str(v) for k, v in SESSIONS.items()})
    )
    return tmp_path


def raw(home: Path) -> dict[str, str]:
    data: dict[str, str] = json.loads((home / "sessions.json").read_text())
    return data


def test_encrypt_then_decrypt_round_trip(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = Fernet.generate_key().decode()
    monkeypatch.setenv("ENCRYPTION_KEY", key)
    assert vai(["encrypt-sessions"]) == 0
    assert "encrypted 2 of 2" in capsys.readouterr().out
    stored = raw(home)
    assert not any(v.isdigit() for v in stored.values())
    assert all(str(c) not in (home / "sessions.json").read_text() for c in SESSIONS.values())
    assert load_sessions(home / "sessions.json", key) == SESSIONS
    assert stat.S_IMODE((home / "sessions.json").stat().st_mode) == 0o600
    # Again: nothing to do, and the file is not rewritten (Fernet tokens would change).
    before = (home / "sessions.json").read_bytes()
    assert vai(["encrypt-sessions"]) == 0
    assert "already encrypted" in capsys.readouterr().out
    assert (home / "sessions.json").read_bytes() == before

    assert vai(["decrypt-sessions"]) == 0
    out = capsys.readouterr().out
    assert "decrypted 2 of 2" in out and "ENCRYPTION_KEY is still set" in out
    assert raw(home) == {str(k): str(v) for k, v in SESSIONS.items()}


def test_a_mixed_file_is_completed(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key().decode()
    token = Fernet(key.encode()).encrypt(str(SESSIONS[2]).encode()).decode()
    (home / "sessions.json").write_text(json.dumps({"1": str(SESSIONS[1]), "2": token}))
    monkeypatch.setenv("ENCRYPTION_KEY", key)
    assert vai(["encrypt-sessions"]) == 0
    assert raw(home)["2"] == token  # left as it was
    assert not raw(home)["1"].isdigit()
    assert load_sessions(home / "sessions.json", key) == SESSIONS


def test_wrong_or_missing_keys_leave_the_file_untouched(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert vai(["encrypt-sessions"]) == 1
    assert "ENCRYPTION_KEY is not set" in capsys.readouterr().err
    monkeypatch.setenv("ENCRYPTION_KEY", Fernet.generate_key().decode())
    assert vai(["encrypt-sessions"]) == 0
    encrypted = (home / "sessions.json").read_bytes()

    monkeypatch.setenv("ENCRYPTION_KEY", Fernet.generate_key().decode())  # another key
    assert vai(["decrypt-sessions"]) == 1
    assert "does not decrypt with ENCRYPTION_KEY" in capsys.readouterr().err
    monkeypatch.delenv("ENCRYPTION_KEY")
    assert vai(["decrypt-sessions"]) == 1
    assert "ENCRYPTION_KEY is not set" in capsys.readouterr().err
    monkeypatch.setenv("ENCRYPTION_KEY", "not a fernet key")
    assert vai(["encrypt-sessions"]) == 1
    assert "not a valid Fernet key" in capsys.readouterr().err
    assert (home / "sessions.json").read_bytes() == encrypted


def test_a_corrupt_file_is_reported_and_never_overwritten(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (home / "sessions.json").write_text('{"1": "123",')
    monkeypatch.setenv("ENCRYPTION_KEY", Fernet.generate_key().decode())
    for command in ("encrypt-sessions", "decrypt-sessions"):
        assert vai([command]) == 1
        assert "invalid JSON" in capsys.readouterr().err
    assert (home / "sessions.json").read_text() == '{"1": "123",'


def test_generate_key_stores_it_in_env_and_keeps_the_rest(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (home / ".env").write_text("DISCORD_BOT_TOKEN=abc")
    assert vai(["encrypt-sessions", "--generate-key"]) == 0
    env = (home / ".env").read_text().splitlines()
    assert env[0] == "DISCORD_BOT_TOKEN=abc" and env[1].startswith("ENCRYPTION_KEY=")
    assert stat.S_IMODE((home / ".env").stat().st_mode) == 0o600
    key = env[1].split("=", 1)[1]
    assert load_sessions(home / "sessions.json", key) == SESSIONS
    assert vai(["encrypt-sessions", "--generate-key"]) == 1  # never replaces a key
    assert "already set" in capsys.readouterr().err
    assert (home / ".env").read_text().count("ENCRYPTION_KEY=") == 1


def test_no_file_is_nothing_to_do(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (home / "sessions.json").unlink()
    monkeypatch.setenv("ENCRYPTION_KEY", Fernet.generate_key().decode())
    assert vai(["encrypt-sessions"]) == 0
    assert vai(["decrypt-sessions"]) == 0
    assert not (home / "sessions.json").exists()
