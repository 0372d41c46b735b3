"""The cost of the network: a session on the hub's own machine (ipc) against one on a
remote host (TCP + CURVE, through the host agent), stand-in Claude, as issue 15 asks.

Discord -> UserPromptSubmit and Stop -> reply at Discord, one message at a time,
alternating between the two sessions; median and p99 of each, and the added latency.
The hub and the host run in their own network namespaces joined by a veth pair (real
TCP, no real wire: the figure is the bridge's own cost, not a network's). Needs root.

Run: .venv/bin/python -m tests.bench.bench_multihost [--samples 100]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.bench.bridge_rig import stamp
from tests.bench.common import machine, report
from tests.support.multihost import Cluster, running_cluster
from tests.support.netns import netns_available
from tests.support.tmux import TmuxServer


def events(*logs: Path) -> list[dict[str, Any]]:
    found = []
    for log in logs:
        try:
            found += [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
        except FileNotFoundError:
            continue
    return found


def measure(cluster: Cluster, logs: list[Path], session: int, text: str) -> tuple[float, float]:
    channel = cluster.channels[session]
    posted = stamp(cluster.discord.post_user_message(channel, text))
    reply = cluster.hub.wait_bot_message(channel, f"echo: {text}", timeout=30)
    seen = events(*logs)
    prompt = next(e for e in seen if e.get("event") == "prompt" and e["prompt"] == text)
    stop = next(
        e for e in seen if e.get("event") == "stop" and e["prompt_id"] == prompt["prompt_id"]
    )
    return (prompt["t"] - posted) * 1000, (stamp(reply) - stop["t"]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=100)
    args = parser.parse_args()
    if why := netns_available():
        raise SystemExit(f"bench_multihost needs network namespaces: {why}")
    print(f"machine: {machine()}")
    root = Path(tempfile.mkdtemp(prefix="vai-bm-", dir="/tmp"))
    tmux = TmuxServer(f"vai-bench-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    logs = [root / "standin.log"]
    try:
        with running_cluster(
            root, tmux, {1: "", 2: "remote"}, {"STANDIN_CLAUDE_LOG": str(logs[0])}, False
        ) as cluster:
            figures: dict[int, tuple[list[float], list[float]]] = {1: ([], []), 2: ([], [])}
            for index in range(args.samples):
                for session in (1, 2):
                    inward, outward = measure(cluster, logs, session, f"m{index}-{session}")
                    figures[session][0].append(inward)
                    figures[session][1].append(outward)
                    time.sleep(0.02)
            names = {1: "hub's own machine (ipc)", 2: "remote host (TCP+CURVE)"}
            for session, (inbound, outbound) in figures.items():
                report(f"{names[session]}: Discord -> UserPromptSubmit", inbound, "-")
                report(f"{names[session]}: Stop -> reply at Discord", outbound, "-")
            for leg, index in (("Discord -> UserPromptSubmit", 0), ("Stop -> reply", 1)):
                local, remote = figures[1][index], figures[2][index]
                added = statistics.median(remote) - statistics.median(local)
                print(f"{'added by the link, ' + leg + ', median':<58} {added:8.1f} ms")
    finally:
        tmux.kill()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
