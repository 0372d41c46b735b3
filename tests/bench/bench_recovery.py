"""Recovery times: worker SIGKILL -> RUNNING and next message accepted; Claude killed ->
resumed and next message accepted; supervisor SIGKILL + restart -> all sessions adopted.

Run: .venv/bin/python -m tests.bench.bench_recovery [--rounds 20]
"""

from __future__ import annotations

import argparse
import os
import signal
import time

import msgspec

from tests.bench.bridge_rig import Rig, bridge
from tests.bench.common import machine, report
from tests.support.stack import worker_pids
from vai.protocol.layout import Layout
from vai.protocol.messages import StatusReply, StatusRequest
from vai.supervisor.control_client import SupervisorUnreachable, request


def status(layout: Layout) -> StatusReply | None:
    try:
        reply = request(layout, StatusRequest(), timeout=1.0)
    except SupervisorUnreachable:
        return None
    return reply if isinstance(reply, StatusReply) else None


def wait_state(layout: Layout, session: int, pid_not: int | None, timeout: float = 30) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reply = status(layout)
        if reply is not None:
            info = next(s for s in reply.sessions if s.session == session)
            if info.state == "RUNNING" and info.pid not in (None, pid_not):
                return time.monotonic()
        time.sleep(0.005)
    raise TimeoutError(f"session {session} not RUNNING again within {timeout}s")


def next_message_accepted(rig: Rig, channel: int) -> float:
    text = f"after-{time.monotonic_ns()}"
    rig.post(channel, text)
    rig.wait_replies([(channel, text)])
    return rig.prompt_times()[text]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    running, accepted, resumed, adopted = [], [], [], []
    with bridge(3, config="[supervisor]\nquiet_period = 1.0\n") as rig:
        layout = rig.stack.layout
        for index in range(args.rounds):
            session = 1 + index % 3
            time.sleep(1.2)  # a healthy worker: past the quiet period (no crash-loop backoff)
            pid = worker_pids(rig.stack)[session]
            killed = time.monotonic()
            killed_wall = time.time()
            os.kill(pid, signal.SIGKILL)
            running.append((wait_state(layout, session, pid) - killed) * 1000)
            accepted.append(
                (next_message_accepted(rig, rig.channels[session - 1]) - killed_wall) * 1000
            )
        for index in range(max(3, args.rounds // 4)):
            session = 1 + index % 3
            next_message_accepted(rig, rig.channels[session - 1])  # Claude is up and idle
            pane = rig.stack.tmux.run(
                "display-message", "-p", "-t", f"=claude-session-{session}:", "#{pane_pid}"
            ).strip()
            killed_wall = time.time()
            os.kill(int(pane), signal.SIGKILL)
            resumed.append(
                (next_message_accepted(rig, rig.channels[session - 1]) - killed_wall) * 1000
            )
        for _ in range(3):
            assert rig.stack.process is not None
            os.kill(rig.stack.process.pid, signal.SIGKILL)
            rig.stack.process.wait()
            started = time.monotonic()
            rig.stack.start()
            while True:
                reply = status(layout)
                if reply is not None and all(s.state == "RUNNING" for s in reply.sessions):
                    break
                time.sleep(0.01)
            adopted.append((time.monotonic() - started) * 1000)
            print(msgspec.json.encode([s.claude_state for s in reply.sessions]).decode())
    report("worker SIGKILL -> session RUNNING again", running, "<= 1500 ms")
    report("worker SIGKILL -> next message accepted by Claude", accepted, "(as above + delivery)")
    report("Claude SIGKILL -> resumed, next message accepted", resumed, "-")
    report("supervisor SIGKILL + restart -> all 3 sessions adopted", adopted, "-")


if __name__ == "__main__":
    main()
