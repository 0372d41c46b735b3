"""`vai move` changes the session's record (sessions.json and the switchboard's copy, which
every later save writes from): a host by name, the hub's own machine as the record's
default, so a record moved home gets its original form back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import cast

import pytest
import zmq

from vai.protocol.session_settings import LOCAL_HOST, SessionSettings
from vai.supervisor.children import Children
from vai.supervisor.config import load_config
from vai.supervisor.hub.hub_link import HubLink
from vai.supervisor.hub.moves import SessionMover
from vai.supervisor.hub.placement import Placement, placed_hosts
from vai.supervisor.inbox import Inbox
from vai.supervisor.sessions_file import load_entries, save_entries
from vai.supervisor.switchboard import Send, Switchboard


class FakeChildren:
    """What the mover asks of the local lifecycle, recorded."""

    def __init__(self) -> None:
        self.done: list[str] = []

    async def end(self, session: int) -> None:
        self.done.append(f"end {session}")

    def add(self, session: int) -> int:
        self.done.append(f"add {session}")
        return session

    async def start(self, child: int, why: str) -> None:
        self.done.append(f"start {child}")


class FakeLink:
    def __init__(self) -> None:
        self.replaced: list[str] = []

    async def replace(self, host: str) -> None:
        self.replaced.append(host)


async def send_all(sends: Iterable[Send]) -> bool:
    return True


@pytest.fixture
def moving(tmp_path: Path) -> Iterator[tuple[SessionMover, Switchboard, FakeChildren, FakeLink]]:
    home = tmp_path / "home"
    home.mkdir()
    key = zmq.curve_keypair()[0].decode()
    (home / "vai.toml").write_text(
        f'[hub]\nlisten = "tcp://127.0.0.1:0"\n[hub.hosts.gpu]\npublic_key = "{key}"\n'
    )
    config = load_config({"VAI_HOME": str(home)})
    entries = {
        1: SessionSettings(channel_id=1001, name="one"),
        2: SessionSettings(channel_id=1002, host="gpu"),
    }
    save_entries(config.layout.sessions_file, entries)
    inbox = Inbox(tmp_path / "inbox.sqlite3")
    switchboard = Switchboard(inbox, config.file.discord)
    for number, record in load_entries(config.layout.sessions_file).items():
        switchboard.add_session(number, record.channel_id, record)
    children, link = FakeChildren(), FakeLink()
    mover = SessionMover(
        config,
        placement=Placement("hub", placed_hosts(entries, "hub")),
        switchboard=switchboard,
        children=cast(Children, children),
        hub_link=cast(HubLink, link),
        send_all=send_all,
    )
    yield mover, switchboard, children, link
    inbox.close()


def test_a_move_changes_the_records_host_in_the_file_and_the_switchboard(
    moving: tuple[SessionMover, Switchboard, FakeChildren, FakeLink],
) -> None:
    mover, switchboard, children, link = moving
    path = mover.config.layout.sessions_file
    asyncio.run(mover.move(1, "gpu"))
    assert children.done == ["end 1"] and link.replaced == ["gpu"]
    assert mover.placement.is_remote(1)
    assert switchboard.settings()[1] == SessionSettings(channel_id=1001, name="one", host="gpu")
    stored = json.loads(path.read_text())
    assert stored["1"] == {"channel_id": "1001", "name": "one", "host": "gpu"}

    asyncio.run(mover.move(2, "hub"))  # home: the record's default, the original form
    assert children.done == ["end 1", "add 2", "start 2"]
    assert switchboard.settings()[2].host == LOCAL_HOST and not mover.placement.is_remote(2)
    assert json.loads(path.read_text())["2"] == "1002"
    assert load_entries(path) == dict(switchboard.settings())
