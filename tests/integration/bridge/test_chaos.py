"""Chaos: 10 sessions, 500 messages, while workers, the supervisor, the gateway and Claude
are SIGKILLed. Every message must reach its Claude exactly once and in channel order, and
every answer must be posted exactly once.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import psutil

from tests.support.harness import wait_until
from tests.support.stack import Stack, gateway_pid, running_stack, worker_pids
from tests.support.tmux import TmuxServer

SESSIONS = 10
MESSAGES = 500
INTERRUPTED_NOTICE = "Claude restarted during this turn"


def transcript_prompts(stack: Stack, session: int) -> list[str]:
    state = json.loads(stack.layout.session_state(session).read_text())
    path = Path(state["transcript_path"])
    prompts = []
    for line in path.read_text().splitlines():
        entry = json.loads(line)
        if entry.get("type") == "user" and isinstance(entry["message"]["content"], str):
            prompts.append(entry["message"]["content"])
    return prompts


class Chaos:
    """Kills processes on a schedule while messages flow; records what it did."""

    def __init__(self, stack: Stack, tmux: TmuxServer, rng: random.Random) -> None:
        self.stack = stack
        self.tmux = tmux
        self.rng = rng
        self.kills: Counter[str] = Counter()
        self.seen: set[int] = set()
        self.stop = threading.Event()
        self.errors: list[BaseException] = []

    def remember(self) -> None:
        self.seen.update(p.pid for p in self.stack.descendants())

    def kill(self, pid: int | None, what: str) -> bool:
        if pid is None:
            return False
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        self.kills[what] += 1
        return True

    def claude_pid(self, session: int) -> int | None:
        out = self.tmux.run(
            "display-message", "-p", "-t", f"=claude-session-{session}:", "#{pane_pid}", check=False
        ).strip()
        if not out.isdigit():
            return None
        try:  # a dead pane reports its old pid, which may belong to someone else by now
            if "standin_claude" not in " ".join(psutil.Process(int(out)).cmdline()):
                return None
        except psutil.Error:
            return None
        return int(out)

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # reported by the test
            self.errors.append(exc)

    def _run(self) -> None:
        schedule: list[tuple[float, str, int]] = []
        schedule += [(2.0 * i, "worker", 0) for i in range(1, 16)]
        schedule += [(7.0, "supervisor", 0), (19.0, "supervisor", 0)]
        schedule += [(11.0, "gateway", 0), (25.0, "gateway", 0)]
        schedule += [(3.0 + 2.5 * s, "claude", s) for s in range(1, SESSIONS + 1)]
        started = time.monotonic()
        for at, what, session in sorted(schedule):
            while time.monotonic() - started < at:
                if self.stop.wait(0.05):
                    return
                self.remember()
            self.remember()
            if what == "worker":
                pids = worker_pids(self.stack)
                if pids:
                    self.kill(pids[self.rng.choice(sorted(pids))], "worker")
            elif what == "gateway":
                # The gateway may be restarting right now; try for a moment.
                deadline = time.monotonic() + 5
                while not self.kill(gateway_pid(self.stack), "gateway"):
                    if time.monotonic() > deadline or self.stop.wait(0.05):
                        break
            elif what == "claude":
                # The pane may be between two Claudes right now; try for a moment.
                deadline = time.monotonic() + 3
                while not self.kill(self.claude_pid(session), "claude"):
                    if time.monotonic() > deadline or self.stop.wait(0.05):
                        break
            elif what == "supervisor":
                assert self.stack.process is not None
                self.kill(self.stack.process.pid, "supervisor")
                self.stack.process.wait()
                self.stack.start()


def test_chaos_every_message_exactly_once_in_order(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    rng = random.Random(20261124)
    with running_stack(short_tmp, tmux_server, channels=SESSIONS, rate_limits=False) as (
        stack,
        channels,
    ):
        stack.start()
        stack.wait_all_running(timeout=60)
        chaos = Chaos(stack, tmux_server, rng)
        driver = threading.Thread(target=chaos.run, daemon=True)
        started = time.monotonic()
        driver.start()
        posted: dict[int, list[str]] = {c: [] for c in channels}
        for index in range(MESSAGES):
            channel = channels[index % SESSIONS]
            text = f"s{channels.index(channel) + 1}-m{len(posted[channel])}"
            stack.discord.post_user_message(channel, text)
            posted[channel].append(text)
            time.sleep(0.055)  # pacing: ~18 messages/s over the chaos window
        driver.join(timeout=60)
        assert not chaos.errors, chaos.errors

        def answered(channel: int) -> int:
            return sum(
                1
                for m in stack.bot_messages(channel)
                if m["content"].startswith("echo: ") or INTERRUPTED_NOTICE in m["content"]
            )

        try:
            wait_until(
                lambda: all(answered(c) >= len(posted[c]) for c in channels),
                180,
                "an answer (or an interrupted-turn notice) for every message",
                every=0.5,
            )
        except TimeoutError:
            for session, channel in enumerate(channels, start=1):
                got = {m["content"].removeprefix("echo: ") for m in stack.bot_messages(channel)}
                missing = [t for t in posted[channel] if t not in got]
                count = f"{answered(channel)}/{len(posted[channel])}"
                print(f"session {session}: {count} missing {missing[:5]}")
            print(stack.vai("status").stdout)
            print(f"kills {dict(chaos.kills)}")
            raise
        elapsed = time.monotonic() - started

        lost = duplicated = reordered = notices = 0
        problems: list[str] = []
        for session, channel in enumerate(channels, start=1):
            expected = posted[channel]
            all_prompts = transcript_prompts(stack, session)
            prompts = [p for p in all_prompts if p in set(expected)]
            counts = Counter(prompts)
            lost += sum(1 for t in expected if counts[t] == 0)
            duplicated += sum(n - 1 for n in counts.values() if n > 1)
            if list(dict.fromkeys(prompts)) != [t for t in expected if counts[t]]:
                reordered += 1
            replies = [m["content"] for m in stack.bot_messages(channel)]
            echoes = [r.removeprefix("echo: ") for r in replies if r.startswith("echo: ")]
            session_notices = sum(1 for r in replies if INTERRUPTED_NOTICE in r)
            notices += session_notices
            if (
                prompts != expected
                or echoes != [t for t in expected if t in set(echoes)]
                or len(echoes) != len(set(echoes))
                or len(echoes) + session_notices != len(expected)
            ):
                problems.append(f"session {session}: prompts {all_prompts}\n  replies {replies}")
                log = stack.layout.session_log(session).read_text(errors="replace")
                problems.append("\n".join(log.splitlines()[-60:]))
        if problems:
            print("\n".join(problems))
            kept = Path(f"/tmp/vai-chaos-logs-{os.getpid()}")
            shutil.copytree(stack.layout.logs_dir, kept, dirs_exist_ok=True)
            shutil.copy(stack.home / "vai-run.out", kept)
            print(f"logs kept in {kept}")
        assert not problems, f"{len(problems) // 2} sessions with problems (printed above)"

        print(
            f"chaos: {MESSAGES} messages over {SESSIONS} sessions in {elapsed:.1f}s;"
            f" kills {dict(chaos.kills)}; lost {lost}, duplicated {duplicated},"
            f" reordered sessions {reordered}, interrupted turns {notices}"
        )
        assert (lost, duplicated, reordered) == (0, 0, 0)
        assert chaos.kills["supervisor"] == 2 and chaos.kills["gateway"] == 2
        assert chaos.kills["claude"] == SESSIONS and chaos.kills["worker"] >= 10

        chaos.remember()
        stopped = stack.vai("stop")
        assert stopped.returncode == 0, stopped.stderr
        assert stack.process is not None
        stack.process.wait(timeout=30)
        wait_until(lambda: not [p for p in chaos.seen if _alive(p)], 15, "no process left behind")
        assert not any(tmux_server.has_session(f"claude-session-{s}") for s in range(1, 11))


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
