"""The original design and the physical floor, on the same stand-in Claude and machine.

Original: a discord.py bot POSTs each message to a local HTTP endpoint (Flask-style,
here the stdlib's threading HTTP server) that runs `tmux send-keys` with the text, sleeps
0.2 s, then sends Enter (SPEC section 7). Floor: the text typed straight into the pane
with one tmux command and Enter, no bridge at all. Both are timed to the stand-in's
UserPromptSubmit, and so is this project's path (`vai run`, as in bench_latency), in the
same run; the ratios close the report.

Run: .venv/bin/python -m tests.bench.bench_baseline [--samples 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import discord
import yarl

from tests.bench.bench_latency import burst, measure
from tests.bench.bridge_rig import bridge, stamp
from tests.bench.common import machine, report, report_value
from tests.support.harness import STANDIN, wait_until
from tests.support.tmux import TmuxServer
from vai.gateway.local_discord import LocalDiscordThread

TARGET = "=pane:"


class Pane:
    """A stand-in Claude in its own tmux server, logging when prompts are submitted."""

    def __init__(self, root: Path) -> None:
        self.tmux = TmuxServer(f"vai-base-{os.getpid()}-{uuid.uuid4().hex[:6]}")
        self.log = root / "standin.log"
        home = root / "home"
        home.mkdir()
        env = f"HOME={home} STANDIN_CLAUDE_STARTUP_MS=0 STANDIN_CLAUDE_LOG={self.log}"
        command = f"env {env} {sys.executable} {STANDIN}"
        self.tmux.run("new-session", "-d", "-s", "pane", "-x", "200", "-y", "50", command)
        wait_until(lambda: "\u276f\u00a0" in self.tmux.capture(TARGET), 10, "the stand-in")

    def prompt_time(self, text: str) -> float | None:
        try:
            lines = self.log.read_text().splitlines()
        except FileNotFoundError:
            return None
        for line in lines:
            event = json.loads(line)
            if event.get("event") == "prompt" and event.get("prompt") == text:
                return float(event["t"])
        return None

    def type_original(self, text: str) -> None:
        """What the original Flask endpoint did for each message."""
        self.tmux.run("send-keys", "-t", TARGET, "-l", text)
        time.sleep(0.2)
        self.tmux.run("send-keys", "-t", TARGET, "Enter")

    def close(self) -> None:
        self.tmux.kill()


def serve_original(pane: Pane) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            pane.type_original(body["message"])
            data = b'{"status": "ok"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def run_original_bot(
    discord_server: LocalDiscordThread, endpoint: str, ready: threading.Event
) -> None:
    """The original bridge's bot: every message is POSTed to the endpoint, one after another."""
    discord.http.Route.BASE = discord_server.api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(discord_server.gateway_url)
    intents = discord.Intents.default()
    intents.message_content = True
    client = discord.Client(intents=intents)
    lock = asyncio.Lock()

    @client.event
    async def on_ready() -> None:
        ready.set()

    @client.event
    async def on_message(message: discord.Message) -> None:
        if message.author.bot:
            return
        payload = {"message": message.content}
        async with (
            lock,
            aiohttp.ClientSession() as http,
            http.post(endpoint, json=payload) as response,
        ):
            await response.read()

    asyncio.run(client.start("test-token"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=30)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    root = Path(tempfile.mkdtemp(prefix="vai-base-", dir="/tmp"))
    pane = Pane(root)
    try:
        floor = []
        for index in range(args.samples):
            text = f"floor-{index}"
            started = time.time()
            subprocess.run(
                ["tmux", "-L", pane.tmux.socket_name, "send-keys", "-t", TARGET, "-l", text, ";",
                 "send-keys", "-t", TARGET, "Enter"],
                check=True,
            )  # fmt: skip
            wait_until(lambda t=text: pane.prompt_time(t), 10, "the prompt")  # type: ignore[misc]
            floor.append(((pane.prompt_time(text) or 0) - started) * 1000)
        report("floor: one tmux command -> UserPromptSubmit", floor, "-")

        with LocalDiscordThread(token="test-token", rate_limits=False) as server:
            channel = server.add_channel("original")
            http = serve_original(pane)
            ready = threading.Event()
            endpoint = f"http://127.0.0.1:{http.server_address[1]}/send"
            threading.Thread(
                target=run_original_bot, args=(server, endpoint, ready), daemon=True
            ).start()
            ready.wait(30)
            original = []
            for index in range(args.samples):
                text = f"original-{index}"
                at = stamp(server.post_user_message(channel, text))
                wait_until(lambda t=text: pane.prompt_time(t), 10, "the prompt")  # type: ignore[misc]
                original.append(((pane.prompt_time(text) or 0) - at) * 1000)
            report("original design: Discord -> UserPromptSubmit", original, "SPEC: 209 ms")
            texts = [f"obust-{i}" for i in range(50)]
            first = stamp(server.post_user_message(channel, texts[0]))
            for text in texts[1:]:
                server.post_user_message(channel, text)
            wait_until(lambda: all(pane.prompt_time(t) for t in texts), 60, "50 prompts", every=0.1)
            last = max(pane.prompt_time(t) or 0 for t in texts)
            original_burst = (last - first) * 1000
            report_value(
                "original design: burst of 50, last accepted after", original_burst, "ms",
                "SPEC: 10.5 s",
            )  # fmt: skip
            http.shutdown()
    finally:
        pane.close()
        shutil.rmtree(root, ignore_errors=True)

    with bridge(1) as rig:  # this project's path, same stand-in, same machine, same run
        inbound, _ = measure(rig, args.samples, concurrent=False)
        ours = report("this bridge: Discord -> UserPromptSubmit", inbound, "p50 <= 20 ms")
        ours_burst = burst(rig)
    floor_median, original_median = statistics.median(floor), statistics.median(original)
    print(
        f"{'ratio, original / this bridge (median latency)':<58} "
        f"{original_median / ours['median']:9.1f}x   target: >= 10x"
    )
    print(
        f"{'ratio, this bridge / floor (median latency)':<58} "
        f"{ours['median'] / floor_median:9.1f}x   (1.0 = no bridge at all)"
    )
    print(
        f"{'ratio, original / this bridge (burst of 50)':<58} "
        f"{original_burst / ours_burst:9.1f}x   target: >= 5x"
    )


if __name__ == "__main__":
    main()
