"""Inbox throughput: messages accepted durably (SQLite WAL, synchronous=FULL) per second.

Three measurements:
- the Inbox alone, one transaction (one fsync) per message: the cost of naive durability;
- the Inbox alone, in batches as the supervisor's bus loop commits them (group commit);
- through a real supervisor's bus: a gateway-like DEALER sending Inbound messages, one
  sender waiting for each ack and 10 concurrent senders on the same link, counting acks
  (an ack is sent only after the commit).

Run: .venv/bin/python -m tests.bench.bench_inbox [--messages 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import shutil
import tempfile
import time
from pathlib import Path

import zmq
import zmq.asyncio

from tests.bench.common import machine, report_value
from vai.common.bus import dealer_socket
from vai.common.tmux import tmux_run
from vai.protocol.codec import decode, encode
from vai.protocol.layout import ipc_endpoint
from vai.protocol.messages import Author, ChatMessage, GatewayHello, Inbound, InboundAck
from vai.supervisor.config import load_config
from vai.supervisor.inbox import Inbox
from vai.supervisor.server import Supervisor
from vai.supervisor.switchboard import GATEWAY

_ids = itertools.count(1)


def chat(channel: int = 1) -> ChatMessage:
    return ChatMessage(
        message_id=next(_ids), channel_id=channel, author=Author(id=7, name="u"), content="x" * 100
    )


def inbox_alone(path: Path, messages: int, batch: int) -> float:
    inbox = Inbox(path)
    started = time.perf_counter()
    for start in range(0, messages, batch):
        inbox.add_messages([(1, chat()) for _ in range(min(batch, messages - start))])
    elapsed = time.perf_counter() - started
    inbox.close()
    return messages / elapsed


async def through_supervisor(home: Path, messages: int, senders: int) -> float:
    os.environ["VAI_HOME"] = str(home)
    os.environ["DISCORD_BOT_TOKEN"] = "bench"
    os.environ["VAI_CLAUDE_COMMAND"] = "true"
    os.environ["VAI_TMUX_SOCKET"] = f"vai-bench-inbox-{os.getpid()}"
    home.mkdir(parents=True, exist_ok=True)
    (home / "sessions.json").write_text('{"1": "1"}')
    supervisor = Supervisor(load_config())
    supervisor.prepare()
    supervisor.open_bus()  # the children are set up, not started
    bus_task = asyncio.create_task(supervisor.serve_bus())
    context = zmq.asyncio.Context()
    # Admitted as the gateway, as a spawned gateway is (CURVE keys, its routing identity).
    keys = supervisor.bus.admit(GATEWAY)
    dealer = dealer_socket(context, ipc_endpoint(supervisor.layout.bus_socket), keys)
    await dealer.send(encode(GatewayHello(pid=os.getpid())))
    await asyncio.sleep(0.2)
    waiting: dict[int, asyncio.Future[None]] = {}
    seq = itertools.count(1)

    async def receive() -> None:
        while True:
            message = decode(await dealer.recv())
            if isinstance(message, InboundAck) and message.seq in waiting:
                waiting.pop(message.seq).set_result(None)

    async def sender(count: int) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(count):
            number = next(seq)
            waiting[number] = loop.create_future()
            done = waiting[number]
            await dealer.send(encode(Inbound(seq=number, session=1, message=chat())))
            await done

    receiver = asyncio.create_task(receive())
    started = time.perf_counter()
    await asyncio.gather(*(sender(messages // senders) for _ in range(senders)))
    elapsed = time.perf_counter() - started
    for task in (receiver, bus_task):
        task.cancel()
    dealer.close(0)
    context.term()
    supervisor.close_bus()
    supervisor.inbox.close()
    tmux_run(supervisor.config.tmux_socket, "kill-server")
    return (messages // senders) * senders / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    root = Path(tempfile.mkdtemp(prefix="vai-inbox-", dir="/tmp"))
    try:
        rate = inbox_alone(root / "a.sqlite3", min(args.messages, 1000), batch=1)
        report_value("inbox alone, one fsync per message", rate, "msg/s", ">= 1000/s")
        rate = inbox_alone(root / "b.sqlite3", args.messages, batch=64)
        report_value("inbox alone, group commit of 64", rate, "msg/s", ">= 1000/s")
        for senders in (1, 10):
            rate = asyncio.run(through_supervisor(root / f"home{senders}", args.messages, senders))
            report_value(
                f"through the supervisor, {senders} sender(s), acked", rate, "msg/s", ">= 1000/s"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
