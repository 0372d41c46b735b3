"""The hub's rules for what a host may say, without sockets: a host speaks only for the
sessions placed on it; a host that goes down leaves its sessions taking nothing (their
messages wait in the inbox) and `vai status` reads HOST DOWN."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
import zmq

from tests.support.clock import FakeClock
from vai.protocol.codec import encode
from vai.protocol.host_link import FromWorker
from vai.protocol.messages import ClaudeStatus, PostReply, TurnEnded, WorkerHello
from vai.supervisor.config import load_config
from vai.supervisor.hub.hub_link import HubLink
from vai.supervisor.hub.placement import Placement
from vai.supervisor.inbox import Inbox
from vai.supervisor.switchboard import Send, Switchboard


class Sent:
    def __init__(self) -> None:
        self.sends: list[Send] = []

    async def send_all(self, sends: Iterable[Send]) -> bool:
        self.sends += list(sends)
        return True


async def post(reply: PostReply) -> bool:
    return True


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[tuple[HubLink, Switchboard, Sent, FakeClock]]:
    home = tmp_path / "home"
    home.mkdir()
    keys = {name: zmq.curve_keypair()[0].decode() for name in ("a", "b")}
    (home / "vai.toml").write_text(
        '[hub]\nlisten = "tcp://127.0.0.1:0"\n'
        + "".join(f'[hub.hosts.{n}]\npublic_key = "{k}"\n' for n, k in keys.items())
    )
    config = load_config({"VAI_HOME": str(home)})
    inbox = Inbox(tmp_path / "inbox.sqlite3")
    switchboard = Switchboard(inbox, config.file.discord)
    switchboard.add_session(1, 1001)
    switchboard.add_session(2, 1002)
    clock = FakeClock()
    sent = Sent()
    link = HubLink(
        config,
        clock=clock,
        switchboard=switchboard,
        placement=Placement("hub", {1: "a", 2: "b"}),
        send_all=sent.send_all,
        post=post,
    )
    yield link, switchboard, sent, clock
    link.context.term()
    inbox.close()


def test_a_host_speaks_only_for_its_own_sessions(
    hub: tuple[HubLink, Switchboard, Sent, FakeClock], caplog: pytest.LogCaptureFixture
) -> None:
    link, switchboard, sent, _ = hub
    forged = TurnEnded(session=2, turn_id="t1", text="forged")
    with caplog.at_level(logging.WARNING):
        asyncio.run(link._payload(link.hosts["a"], FromWorker(session=2, frame=encode(forged))))
    assert sent.sends == []
    assert "host a tried to speak for session 2 (placed on b): refused" in caplog.text
    hello = WorkerHello(session=1, pid=9, ready=True)
    asyncio.run(link._payload(link.hosts["a"], FromWorker(session=1, frame=encode(hello))))
    assert switchboard.peer(1).taking_messages


def test_a_remote_pane_pid_is_not_kept(hub: tuple[HubLink, Switchboard, Sent, FakeClock]) -> None:
    link, switchboard, _, _ = hub
    seen: list[int | None] = []

    class Observer:
        def prompt_accepted(self, session: int, message_id: int) -> None: ...

        def turn_ended(self, session: int, message_ids: list[int]) -> None: ...

        def pane_seen(self, session: int, pane_pid: int | None) -> None:
            seen.append(pane_pid)

    switchboard._observer = Observer()
    status = ClaudeStatus(session=1, state="idle", pane_pid=4242)
    asyncio.run(link._payload(link.hosts["a"], FromWorker(session=1, frame=encode(status))))
    assert seen == [None]


def test_a_host_down_holds_its_sessions(hub: tuple[HubLink, Switchboard, Sent, FakeClock]) -> None:
    link, switchboard, _, clock = hub
    host = link.hosts["b"]
    host.liveness.heard()
    hello = WorkerHello(session=2, pid=9, ready=True)
    asyncio.run(link._payload(host, FromWorker(session=2, frame=encode(hello))))
    assert switchboard.peer(2).taking_messages
    clock.advance(host.liveness.interval * host.liveness.liveness + 0.1)
    assert host.liveness.expired()
    link._down(host)
    assert not switchboard.peer(2).taking_messages  # messages for it wait in the inbox
    assert "HOST DOWN" in link.reading(2).detail
    assert link.reading(1).detail == "HOST DOWN (a)"  # a never connected
