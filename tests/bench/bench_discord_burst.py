"""Burst from 10 busy sessions at once: does the bridge stay a good Discord citizen?

Run: `python tests/bench/bench_discord_burst.py [--sessions 10] [--replies 5]`.

The gateway runs in-process against the local Discord server with Discord's limits (5
messages per 5 s per channel, 50 requests/s globally, `X-RateLimit-*` headers, 429s with
`Via`); the test plays the supervisor. Every session at once gets the traffic of a busy
turn: 3 user messages (reactions 📥 and ✅, typing), 3 tool steps (one progress message,
edited), then `--replies` answers, one of them 4,500 characters (3 messages). Reported:
requests sent vs accepted, 429s, invalid requests (what Discord bans on), and the time
from each answer's arrival at the gateway to its last part posted (median, p99) — for
the bridge's pacing ("paced", 40 requests/s) and for discord.py alone ("unpaced").
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import pytest  # noqa: E402

from tests.support.gateway_rig import gateway_rig  # noqa: E402
from vai.protocol.messages import (  # noqa: E402
    PostReply,
    PromptProgress,
    ReplyPosted,
    ToolProgress,
)
from vai.protocol.specs import GatewaySettings  # noqa: E402
from vai.worker.standin.cli import long_answer  # noqa: E402


@dataclass
class Result:
    mode: str
    requests: int
    accepted: int
    statuses: dict[int, int]
    invalid: int
    latencies: list[float]
    duration: float

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
        return ordered[index]

    def line(self) -> str:
        median = statistics.median(self.latencies)
        return (
            f"{self.mode:8} requests sent {self.requests:4d}, accepted {self.accepted:4d},"
            f" 429s {self.statuses.get(429, 0):3d}, invalid {self.invalid:3d};"
            f" answer posted after median {median * 1000:7.0f} ms, p99"
            f" {self.percentile(0.99) * 1000:7.0f} ms; all done in {self.duration:5.2f} s"
        )


async def burst(home: Path, sessions: int, replies: int, rate: float, mode: str) -> Result:
    monkeypatch = pytest.MonkeyPatch()
    try:
        settings = GatewaySettings(requests_per_second=rate, user_burst=0, session_burst=0)
        async with gateway_rig(monkeypatch, home, channels=sessions, settings=settings) as rig:
            start_index = len(rig.discord.request_log)
            started = time.monotonic()
            submitted: dict[str, float] = {}
            posted: dict[str, float] = {}
            for session, chan in enumerate(rig.channels, start=1):
                for i in range(3):
                    rig.discord.post_user_message(chan, f"task {i} for session {session}")
            await rig.wait(lambda: len(rig.sup.inbound()) == 3 * sessions, 60, "all inbound")
            for message in rig.sup.inbound():
                await rig.sup.send(
                    PromptProgress(
                        channel_id=message.channel_id,
                        message_id=message.message_id,
                        stage="accepted",
                    )
                )
            for session, chan in enumerate(rig.channels, start=1):
                for step in ("Read", "Bash", "Edit"):
                    await rig.sup.send(
                        ToolProgress(
                            session=session,
                            turn_id="t1",
                            tool_name=step,
                            summary=f"{step.lower()} something",
                            channel_id=chan,
                        )
                    )
                for n in range(replies):
                    reply_id = f"s{session}-r{n}"
                    text = long_answer(4500) if n == 0 else f"answer {n} of session {session}"
                    submitted[reply_id] = time.monotonic()
                    await rig.sup.send(
                        PostReply(reply_id=reply_id, channel_id=chan, text=text, turn_id=f"r{n}")
                    )

            def all_posted() -> bool:
                now = time.monotonic()
                for message in rig.sup.of_type(ReplyPosted):
                    posted.setdefault(message.reply_id, now)
                return len(posted) == len(submitted)

            await rig.wait(all_posted, 300, "every answer posted")
            duration = time.monotonic() - started
            log = [
                r for r in list(rig.discord.request_log)[start_index:] if r.path.startswith("/api")
            ]
            statuses = collections.Counter(r.status for r in log)
            return Result(
                mode=mode,
                requests=len(log),
                accepted=sum(n for s, n in statuses.items() if 200 <= s < 300),
                statuses=dict(statuses),
                invalid=rig.discord.invalid_request_count,
                latencies=[posted[r] - submitted[r] for r in submitted],
                duration=duration,
            )
    finally:
        monkeypatch.undo()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--replies", type=int, default=5)
    args = parser.parse_args()
    print(
        f"{args.sessions} sessions x ({args.replies} answers, one of 4,500 chars; 3 messages;"
        f" 3 tool steps) on {platform.machine()}, {os.cpu_count()} cores, Python"
        f" {platform.python_version()}"
    )
    for mode, rate in (("paced", 40.0), ("unpaced", 0.0)):
        with tempfile.TemporaryDirectory(prefix="vai-bench-", dir="/tmp") as tmp:
            result = asyncio.run(burst(Path(tmp), args.sessions, args.replies, rate, mode))
        print(result.line())
        print(f"{'':8} statuses {dict(sorted(result.statuses.items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
