"""Session placement (issue 15): the host in each sessions.json record, the placement
rules, and `vai status` with a HOST column only once the bridge spans hosts."""

from __future__ import annotations

import json
from pathlib import Path

from vai.common.status_view import render_status, status_document
from vai.protocol.messages import SessionInfo, StatusReply
from vai.protocol.session_settings import LOCAL_HOST, SessionSettings
from vai.supervisor.hub.placement import Placement, placed_hosts, record_host
from vai.supervisor.sessions_file import load_entries, load_sessions, save_entries


def test_plain_and_record_entries_read_alike(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    path.write_text(json.dumps({"1": "111", "2": {"channel_id": "222", "host": "gpu"}}))
    entries = load_entries(path)
    assert load_sessions(path) == {1: 111, 2: 222}
    assert entries[1].host == LOCAL_HOST
    assert placed_hosts(entries, "hub") == {2: "gpu"}


def test_the_local_default_and_the_hubs_name_are_the_hubs_own_machine() -> None:
    entries = {
        1: SessionSettings(channel_id=111),
        2: SessionSettings(channel_id=222, host="hub"),
        3: SessionSettings(channel_id=333, host="gpu"),
    }
    assert placed_hosts(entries, "hub") == {3: "gpu"}
    assert record_host("hub", "hub") == LOCAL_HOST and record_host("gpu", "hub") == "gpu"


def test_saving_keeps_hosts_and_a_single_machine_file_keeps_its_form(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    save_entries(path, {1: SessionSettings(channel_id=111)})
    assert json.loads(path.read_text()) == {"1": "111"}
    entries = {
        1: SessionSettings(channel_id=111),
        2: SessionSettings(channel_id=222, host=record_host("gpu", "hub")),
        3: SessionSettings(channel_id=333, host=record_host("hub", "hub")),
    }
    save_entries(path, entries)
    assert json.loads(path.read_text()) == {
        "1": "111",
        "2": {"channel_id": "222", "host": "gpu"},
        "3": "333",
    }
    assert load_entries(path) == entries


def test_placement_defaults_to_the_hubs_own_machine() -> None:
    placement = Placement("hub", {2: "gpu"})
    assert placement.host_of(1) == "hub" and not placement.is_remote(1)
    assert placement.is_remote(2)
    assert placement.on("gpu", {1: 10, 2: 20}) == {2: 20}
    placement.place(2, "hub")
    assert not placement.is_remote(2) and placement.remote_hosts() == {}


def reply(*sessions: SessionInfo) -> StatusReply:
    return StatusReply(
        supervisor_pid=1, uptime_s=5, gateway_state="RUNNING", gateway_pid=2, sessions=[*sessions]
    )


def test_status_shows_hosts_and_host_down_only_across_hosts() -> None:
    single = render_status(reply(SessionInfo(session=1, channel_id=10, work_dir="/w")))
    assert "HOST" not in single
    spread = reply(
        SessionInfo(session=1, channel_id=10, work_dir="/w", state="RUNNING", host="hub"),
        SessionInfo(
            session=2, channel_id=20, work_dir="/w", host="gpu", host_down=True,
            detail="HOST DOWN (gpu)",
        ),
    )  # fmt: skip
    text = render_status(spread)
    assert "HOST" in text.splitlines()[1]
    assert "gpu HOST DOWN" in text
    assert status_document(spread)["sessions"][1]["host_down"] is True


def test_encrypting_and_decrypting_keep_each_sessions_host(tmp_path: Path) -> None:
    from cryptography.fernet import Fernet

    from vai.supervisor.sessions_crypto import decrypt_sessions, encrypt_sessions

    key = Fernet.generate_key().decode()
    path = tmp_path / "sessions.json"
    record = {"channel_id": "222", "host": "gpu"}
    path.write_text(json.dumps({"1": "111", "2": record}))
    assert encrypt_sessions(path, key).changed == 2
    stored = json.loads(path.read_text())
    assert stored["2"]["host"] == "gpu" and stored["2"]["channel_id"].startswith("gAAAAA")
    assert load_sessions(path, key) == {1: 111, 2: 222}
    assert decrypt_sessions(path, key).changed == 2
    assert json.loads(path.read_text()) == {"1": "111", "2": record}
