"""The rules of session changes on a temp VAI_HOME: numbering, what is forgotten, what is
purged, what a reused number finds. Files and a temp SQLite inbox only, no processes."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path

import pytest

from vai.common.errors import BridgeError
from vai.protocol.layout import Layout
from vai.protocol.messages import Author, ChatMessage
from vai.protocol.session_settings import SessionSettings
from vai.supervisor.config import load_config
from vai.supervisor.inbox import Inbox
from vai.supervisor.session_changes import (
    add_offline,
    forget_files,
    number_for,
    prepare_number,
    purge_files,
    remove_offline,
    session_logs,
)
from vai.supervisor.sessions_file import load_entries, save_entries


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    layout = Layout(str(tmp_path / "home"))
    for directory in (layout.run_dir, layout.state_dir, layout.logs_dir):
        directory.mkdir(mode=0o700, parents=True)
    return layout


def test_a_new_channel_gets_the_lowest_free_number_once() -> None:
    assert number_for({}, 5) == 1
    assert number_for({1: 10, 3: 30}, 20) == 2
    with pytest.raises(BridgeError, match="already session 3"):
        number_for({1: 10, 3: 30}, 30)
    with pytest.raises(BridgeError, match="invalid channel id"):
        number_for({}, 0)


def test_a_sessions_logs_are_its_own_rotated_ones_too(layout: Layout) -> None:
    names = ["session_1.log", "session_1.log.1", "session_1.log.2", "session_12.log",
             "session_1.logger", "supervisor.log"]  # fmt: skip
    for name in names:
        (layout.logs_dir / name).write_text("x")
    assert [p.name for p in session_logs(layout, 1)] == [
        "session_1.log",
        "session_1.log.1",
        "session_1.log.2",
    ]
    purge_files(layout, 1)
    left = sorted(p.name for p in layout.logs_dir.iterdir())
    assert left == ["session_1.logger", "session_12.log", "supervisor.log"]


def test_forgetting_leaves_a_lock_a_live_worker_holds(layout: Layout) -> None:
    journal = layout.session_state(1)
    journal.write_text('{"conversation_id": "c"}')
    journal.with_suffix(".corrupt").write_text("?")
    (layout.state_dir / ".session_1.json.tmp123").write_text("half")
    layout.session_run_dir(1).mkdir()
    layout.hook_spool(1).write_text("{}\n")
    layout.claude_settings(1).write_text("{}")
    layout.worker_lock(1).write_text("4242")
    layout.worker_lock(2).write_text("4343")
    held = os.open(layout.worker_lock(2), os.O_RDWR)
    fcntl.flock(held, fcntl.LOCK_EX)
    try:
        forget_files(layout, 1)
        forget_files(layout, 2)
        assert layout.worker_lock(2).exists()  # its successor must still find the holder
    finally:
        os.close(held)
    assert sorted(p.name for p in layout.state_dir.iterdir()) == []
    assert sorted(p.name for p in layout.run_dir.iterdir()) == ["worker-2.lock"]


def test_a_reused_number_finds_nothing_of_the_removed_session(layout: Layout) -> None:
    attachments = layout.session_attachments(3)
    attachments.mkdir(parents=True)
    (attachments / "plan.pdf").write_bytes(b"%PDF")
    layout.session_log(3).write_text("old\n")
    layout.session_state(3).write_text('{"conversation_id": "old"}')
    aside = prepare_number(layout, 3)
    assert aside is not None and aside.parent == layout.removed_dir()
    assert (aside / "attachments" / "plan.pdf").read_bytes() == b"%PDF"
    assert (aside / "logs" / "session_3.log").read_text() == "old\n"
    assert list(attachments.iterdir()) == [] and attachments.stat().st_mode & 0o077 == 0
    assert not layout.session_log(3).exists() and not layout.session_state(3).exists()
    assert prepare_number(layout, 4) is None  # a number never used: nothing to set aside


def test_adding_offline_forgets_what_an_interrupted_removal_left_in_the_inbox(
    tmp_path: Path, layout: Layout
) -> None:
    inbox = Inbox(layout.inbox_db)
    old = ChatMessage(message_id=77, channel_id=999, author=Author(id=1, name="u"), content="x")
    inbox.add_messages([(1, old)])
    inbox.start_cursor(555, 1)  # the new channel was a session long ago
    inbox.close()
    config = load_config({"VAI_HOME": layout.home, "VAI_CLAUDE_WORK_DIR": str(tmp_path)})
    added = add_offline(config, 555)
    assert (added.session, added.text.splitlines()[0]) == (
        1,
        "Success: Session 1 added (the supervisor is not running: `vai start`)",
    )
    assert json.loads(layout.sessions_file.read_text()) == {"1": "555"}
    inbox = Inbox(layout.inbox_db)
    try:
        assert inbox.open_messages(1) == []
        assert 555 not in inbox.last_message_ids()
    finally:
        inbox.close()


def test_removing_a_channel_offline_removes_its_thread_sessions_too(
    tmp_path: Path, layout: Layout
) -> None:
    config = load_config(
        {
            "VAI_HOME": layout.home,
            "VAI_CLAUDE_WORK_DIR": str(tmp_path),
            "VAI_TMUX_SOCKET": f"vai-none-{os.getpid()}-{tmp_path.name}",  # no server there
        }
    )
    thread = SessionSettings(channel_id=600, kind="thread", parent_channel_id=555)
    elsewhere = SessionSettings(channel_id=700, kind="thread", parent_channel_id=999)
    save_entries(
        layout.sessions_file,
        {
            1: SessionSettings(channel_id=555),
            2: thread,
            3: SessionSettings(channel_id=999),
            4: elsewhere,
        },
    )
    layout.session_state(2).write_text('{"conversation_id": "thread"}')
    removed = remove_offline(config, 1, purge=False)
    assert (
        removed.text == "Session 1 removed (attachments and log kept); its thread session(s) 2 too"
    )
    assert set(load_entries(layout.sessions_file)) == {3, 4}
    assert not layout.session_state(2).exists()
