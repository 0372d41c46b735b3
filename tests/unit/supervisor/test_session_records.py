"""sessions.json records (old bare ids and new records, plain and encrypted) and the
confinement of work dirs asked for from Discord."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from vai.common.errors import BridgeError, ConfigError
from vai.protocol.session_settings import LOCAL_HOST, SessionSettings
from vai.supervisor.config import DiscordSection, SessionDiscord
from vai.supervisor.routes import session_map
from vai.supervisor.sessions_crypto import decrypt_sessions, encrypt_sessions
from vai.supervisor.sessions_file import load_entries, load_sessions, save_entries
from vai.supervisor.work_dirs import confined_work_dir

CHANNEL = 111111111111111111
THREAD = 222222222222222222


def records() -> dict[int, SessionSettings]:
    return {
        1: SessionSettings(channel_id=CHANNEL),
        2: SessionSettings(channel_id=CHANNEL + 1, name="app", work_dir="/srv/app", threads=True),
        3: SessionSettings(
            channel_id=THREAD,
            kind="thread",
            parent_channel_id=CHANNEL + 1,
            worktree="/srv/app/.vai-worktrees/thread-1",
            work_dir="/srv/app/.vai-worktrees/thread-1",
        ),
    }


def test_old_files_load_and_plain_sessions_keep_the_original_form(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    path.write_text(json.dumps({"1": str(CHANNEL), "2": CHANNEL + 1}))
    entries = load_entries(path)
    assert entries == {
        1: SessionSettings(channel_id=CHANNEL),
        2: SessionSettings(channel_id=CHANNEL + 1),
    }
    assert entries[1].host == LOCAL_HOST and entries[1].kind == "channel"
    save_entries(path, entries)
    assert json.loads(path.read_text()) == {"1": str(CHANNEL), "2": str(CHANNEL + 1)}
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_records_round_trip_and_the_key_hides_every_channel_id(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    save_entries(path, records())
    assert load_entries(path) == records()
    assert load_sessions(path) == {1: CHANNEL, 2: CHANNEL + 1, 3: THREAD}
    key = Fernet.generate_key().decode()
    migrated = encrypt_sessions(path, key)
    assert (migrated.ids, migrated.changed) == (4, 4)  # the thread's parent counts too
    text = path.read_text()
    assert str(CHANNEL) not in text and str(THREAD) not in text and str(CHANNEL + 1) not in text
    assert load_entries(path, key) == records()
    with pytest.raises(ConfigError, match="ENCRYPTION_KEY is not set"):
        load_entries(path)
    assert decrypt_sessions(path, key).changed == 4
    assert load_entries(path) == records()
    assert str(THREAD) in path.read_text()


def test_a_bad_record_is_an_error_never_a_guess(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    for bad, why in (
        ({"1": {"channel_id": str(CHANNEL), "kind": "thread"}}, "parent_channel_id"),
        ({"1": {"channel_id": str(CHANNEL), "work_dir": "relative"}}, "absolute"),
        ({"1": {"channel_id": str(CHANNEL), "colour": "red"}}, "colour"),
        ({"1": {"channel_id": "0"}}, "channel id"),
    ):
        path.write_text(json.dumps(bad))
        with pytest.raises(ConfigError, match=why):
            load_entries(path)


def test_routes_carry_threads_and_a_thread_takes_its_parents_lists() -> None:
    discord = DiscordSection(
        sessions={"2": SessionDiscord(allowed_users=[5]), "1": SessionDiscord(threads=True)}
    )
    routes = {r.session: r for r in session_map(records(), discord, {THREAD: 9}).routes}
    assert routes[1].threads  # vai.toml turns them on
    assert routes[2].threads  # `/threads on` stored it
    assert routes[3].thread_of == CHANNEL + 1 and not routes[3].threads
    assert routes[3].allowed_users == (5,) and routes[3].last_message_id == 9


def test_work_dirs_from_discord_stay_inside_the_roots(tmp_path: Path) -> None:
    root = tmp_path / "projects"
    (root / "app").mkdir(parents=True)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    home = tmp_path / "vai"
    home.mkdir()
    (root / "home").symlink_to(home)
    real = Path(os.path.realpath(root))
    assert confined_work_dir("app", [root], [home], create=False) == real / "app"
    assert confined_work_dir(str(root / "app"), [root], [home], create=False) == real / "app"
    assert confined_work_dir("", [root], [home], create=False) == real
    for escape in ("../elsewhere", "link", str(outside), "/etc", "app/../../elsewhere"):
        with pytest.raises(BridgeError, match="outside the allowed work dirs"):
            confined_work_dir(escape, [root], [home], create=True)
    with pytest.raises(BridgeError, match="~"):
        confined_work_dir("~/x", [root], [home], create=True)
    with pytest.raises(BridgeError, match="bridge's own directory"):
        confined_work_dir("home", [root, home.parent], [home], create=True)
    assert not (root / "new").exists()
    made = confined_work_dir("new/deeper", [root], [home], create=True)
    assert made == real / "new" / "deeper" and made.is_dir()
    with pytest.raises(BridgeError, match="no work dir root exists"):
        confined_work_dir("x", [tmp_path / "missing"], [home], create=True)
