"""Cost of the hook client per event: Claude runs `python -I -S hook_client.py SESSION_DIR`
for every hook event, so its whole run (interpreter start, read the session's key, connect,
hand over the JSON, wait for the worker's answer, exit) is paid on every tool call and every
turn. Target: under 50 ms.

Measured four ways: against a worker that answers at once (the common case), against the
worker's real hook server with its gate (key, SO_PEERCRED, the pane's process tree), with
the worker gone (the event goes to the spool file), and for comparison the bare interpreter
start-up (`python -I -S -c pass`), the floor any Python hook pays.

Run: .venv/bin/python -m tests.bench.bench_hook_client [--samples 200]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.bench.common import machine, report
from vai.protocol.hooks import HookPayload
from vai.worker.hook_server import HookServer
from vai.worker.pane_gate import Gate

KEY = b"k" * 64

CLIENT = Path(__file__).resolve().parents[2] / "worker" / "hook_client.py"
EVENT = json.dumps(
    {
        "session_id": "3f1c1d2e-1111-4222-8333-444455556666",
        "transcript_path": "/home/u/.claude/projects/-w/3f1c1d2e.jsonl",
        "cwd": "/w",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": "ls -la", "description": "List files"},
        "tool_use_id": "toolu_0123456789abcdef01234567",
        "prompt_id": "9e9366c5-f015-4f00-8000-000000000000",
    }
).encode()


def serve(path: Path, stop: threading.Event) -> None:
    """A worker stand-in: read one event per connection, answer nothing, close."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(64)
    server.settimeout(0.2)
    while not stop.is_set():
        try:
            conn, _ = server.accept()
        except TimeoutError:
            continue
        with conn:
            while conn.recv(65536):
                pass
    server.close()


def serve_gated(folder: Path, ready: threading.Event, stop: threading.Event) -> None:
    """The worker's own hook server, its gate on (our children stand for the pane's)."""

    async def handler(event: HookPayload, live: bool) -> bytes:
        return b""

    async def pane_pid() -> int | None:
        return os.getpid()

    async def main() -> None:
        server = HookServer(
            folder / "hook.sock", folder / "hook.spool", handler,
            gate=lambda: Gate(key=KEY, uid=os.getuid()), pane_pid=pane_pid,
        )  # fmt: skip
        await server.start()
        ready.set()
        while not stop.is_set():
            await asyncio.sleep(0.05)
        await server.close()

    asyncio.run(main())


def run(argv: list[str], samples: int) -> list[float]:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        subprocess.run(argv, input=EVENT, stdout=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="vai-bench-") as tmp:
        folder = Path(tmp)
        (folder / "hook.key").write_bytes(KEY + b"\n")
        sock = folder / "hook.sock"
        stop = threading.Event()
        thread = threading.Thread(target=serve, args=(sock, stop), daemon=True)
        thread.start()
        while not sock.exists():
            time.sleep(0.01)
        client = [sys.executable, "-I", "-S", str(CLIENT), str(folder)]
        run(client, 5)  # warm the page cache
        report("hook client, worker listening (per event)", run(client, args.samples), "< 50 ms")
        stop.set()
        thread.join()
        sock.unlink()
        ready, stop = threading.Event(), threading.Event()
        gated = threading.Thread(target=serve_gated, args=(folder, ready, stop), daemon=True)
        gated.start()
        ready.wait(10)
        report("hook client, the worker's gated server", run(client, args.samples), "< 50 ms")
        stop.set()
        gated.join()
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()
        gone = run(client, args.samples)
        report("hook client, no worker (event spooled)", gone, "< 50 ms")
        floor = run([sys.executable, "-I", "-S", "-c", "pass"], args.samples)
        report("python -I -S -c pass (the floor)", floor, "-")


if __name__ == "__main__":
    main()
