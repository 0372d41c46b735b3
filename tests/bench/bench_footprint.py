"""Footprint and scale: time for `vai run` to bring N sessions to ready, resident memory
of the supervisor, the gateway and each worker, and the supervisor's CPU when idle.

Run: .venv/bin/python -m tests.bench.bench_footprint [--sessions 10,50]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import psutil

from tests.bench.common import machine, report, report_value
from tests.support.stack import TOKEN, Stack
from tests.support.tmux import TmuxServer
from vai.gateway.local_discord import LocalDiscordThread

IDLE_SECONDS = 10.0


def role(process: psutil.Process) -> str:
    with contextlib.suppress(psutil.Error):
        command = process.cmdline()
        if command[-2:] == ["-m", "vai.worker"]:
            return "worker"
        if command[-2:] == ["-m", "vai.gateway"]:
            return "gateway"
    return "other"


def measure(sessions: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="vai-f-", dir="/tmp"))
    tmux = TmuxServer(f"vai-foot-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    try:
        with LocalDiscordThread(token=TOKEN, rate_limits=False) as discord:
            channels = [discord.add_channel(f"c{i}") for i in range(sessions)]
            stack = Stack(home, tmux, discord)
            stack.write_sessions(dict(enumerate(channels, start=1)))
            started = time.monotonic()
            stack.start()
            try:
                stack.wait_all_running(timeout=300)
            except TimeoutError:
                print(stack.vai("status").stdout)
                stack.kill()
                raise
            report_value(
                f"vai run -> {sessions} sessions RUNNING", time.monotonic() - started, "s",
                "<= 5 s for 10 (stub Claude)",
            )  # fmt: skip
            assert stack.process is not None
            supervisor = psutil.Process(stack.process.pid)
            children = stack.descendants()
            rss: dict[str, list[float]] = {"worker": [], "gateway": []}
            for child in children:
                kind = role(child)
                if kind in rss:
                    with contextlib.suppress(psutil.Error):
                        rss[kind].append(child.memory_info().rss / 2**20)
            own = supervisor.memory_info().rss / 2**20
            report_value(f"{sessions} sessions: supervisor RSS", own, "MB", "sup+gw <= 86 MB")
            report_value(
                f"{sessions} sessions: gateway RSS", sum(rss["gateway"]), "MB", "sup+gw <= 86 MB"
            )
            report(f"{sessions} sessions: worker RSS", rss["worker"], "<= 35 MB", unit="MB")
            before = supervisor.cpu_times()
            time.sleep(IDLE_SECONDS)
            after = supervisor.cpu_times()
            used = (after.user + after.system) - (before.user + before.system)
            report_value(
                f"{sessions} sessions idle: supervisor CPU",
                100 * used / IDLE_SECONDS,
                "% core",
                "-",
            )
            stack.vai("stop", timeout=120)
            stack.process.wait(timeout=120)
    finally:
        tmux.kill()
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", default="10,50")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    for sessions in [int(s) for s in args.sessions.split(",")]:
        measure(sessions)


if __name__ == "__main__":
    main()
