"""Session placement (issue 15): sessions.json records with a host, the placement rules,
and `vai status` with a HOST column only once the bridge spans hosts."""

from __future__ import annotations

import json
from pathlib import Path

from vai.common.status_view import render_status, status_document
from vai.protocol.messages import SessionInfo, StatusReply
from vai.supervisor.hub.placement import Placement
from vai.supervisor.sessions_file import load_hosts, load_sessions, save_sessions


def test_plain_and_record_entries_read_alike(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    path.write_text(json.dumps({"1": "111", "2": {"channel": "222", "host": "gpu"}}))
    assert load_sessions(path) == {1: 111, 2: 222}
    assert load_hosts(path) == {2: "gpu"}


def test_saving_keeps_hosts_and_a_single_machine_file_keeps_its_form(tmp_path: Path) -> None:
    path = tmp_path / "sessions.json"
    save_sessions(path, {1: 111})
    assert json.loads(path.read_text()) == {"1": "111"}
    save_sessions(path, {1: 111, 2: 222}, hosts={2: "gpu"})
    save_sessions(path, {1: 111, 2: 222, 3: 333})  # hosts=None: kept as the file says
    assert json.loads(path.read_text()) == {
        "1": "111",
        "2": {"channel": "222", "host": "gpu"},
        "3": "333",
    }


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
    path.write_text(json.dumps({"1": "111", "2": {"channel": "222", "host": "gpu"}}))
    assert encrypt_sessions(path, key).changed == 2
    stored = json.loads(path.read_text())
    assert stored["2"]["host"] == "gpu" and stored["2"]["channel"].startswith("gAAAAA")
    assert load_sessions(path, key) == {1: 111, 2: 222}
    assert decrypt_sessions(path, key).changed == 2
    assert json.loads(path.read_text()) == {"1": "111", "2": {"channel": "222", "host": "gpu"}}
