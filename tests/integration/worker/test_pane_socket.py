"""The session's socket end to end, with real processes: the hook client and the pane's dp
get in, anything else is refused and logged; spooled events need the key; the session
folder's modes and group are what Claude's user needs and no more."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from vai.protocol.hooks import HookPayload, StatusLine, Stop
from vai.protocol.layout import Layout
from vai.protocol.links import WorkerToSupervisor
from vai.protocol.messages import PanePost
from vai.worker.hook_server import HookServer
from vai.worker.pane_gate import Gate
from vai.worker.pane_posts import PanePosts
from vai.worker.session_files import SessionFiles

SESSION, CHANNEL = 3, 1234567890123456789
STOP = json.dumps(
    {"session_id": "s", "transcript_path": "", "cwd": "/", "hook_event_name": "Stop",
     "last_assistant_message": "the answer", "stop_hook_active": False}
)  # fmt: skip


class Session:
    def __init__(self, layout: Layout, server: HookServer, posted: list[WorkerToSupervisor]):
        self.layout = layout
        self.server = server
        self.events: list[tuple[HookPayload, bool]] = []
        self.readings: list[tuple[StatusLine, int]] = []
        self.posted = posted
        self.pane_pid: int | None = os.getpid()  # our children stand for the pane's

    async def client(
        self,
        *argv: str,
        stdin: str = "",
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        def run() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*argv], input=stdin, capture_output=True, text=True, timeout=30, check=False,
                env=env, cwd=cwd,
            )  # fmt: skip

        return await asyncio.to_thread(run)

    async def hook(self, payload: str = STOP) -> subprocess.CompletedProcess[str]:
        client = str(self.layout.hook_client(SESSION))
        folder = str(self.layout.session_run_dir(SESSION))
        return await self.client(sys.executable, "-I", "-S", client, folder, stdin=payload)

    async def status(self, payload: str, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
        """The hook client as Claude's statusLine command."""
        client = str(self.layout.hook_client(SESSION))
        folder = str(self.layout.session_run_dir(SESSION))
        env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        argv = (sys.executable, "-I", "-S", client, folder, "status")
        return await self.client(*argv, stdin=payload, env=env, cwd=cwd)

    async def dp(self, *args: str) -> subprocess.CompletedProcess[str]:
        return await self.client(str(self.layout.pane_dp(SESSION)), *args)


@asynccontextmanager
async def session(tmp: Path) -> AsyncIterator[Session]:
    layout = Layout(str(tmp))
    key = SessionFiles(layout, SESSION, None, sys.executable).prepare()
    posted: list[WorkerToSupervisor] = []

    async def send(message: WorkerToSupervisor) -> None:
        posted.append(message)

    posts = PanePosts(
        session=SESSION, channel_id=CHANNEL, outgoing=layout.outgoing_dir(SESSION),
        upload_limit=1000, send=send,
    )  # fmt: skip
    holder: list[Session] = []

    async def handler(event: HookPayload, live: bool) -> bytes:
        holder[0].events.append((event, live))
        return b""

    async def pane_pid() -> int | None:
        return holder[0].pane_pid

    server = HookServer(
        layout.hook_socket(SESSION), layout.hook_spool(SESSION), handler,
        gate=lambda: Gate(key=key, uid=os.getuid()), pane_pid=pane_pid, post=posts.handle,
        status=lambda reading, pid: holder[0].readings.append((reading, pid)),
    )  # fmt: skip
    holder.append(Session(layout, server, posted))
    await server.start()
    try:
        yield holder[0]
    finally:
        await server.close()


def run(scenario: Callable[[], object]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


def test_the_hook_client_gets_in_and_forgers_are_refused(
    short_tmp: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with session(short_tmp) as s:
            assert (await s.hook()).returncode == 0
            assert [(type(e), live) for e, live in s.events] == [(Stop, True)]
            caplog.set_level(logging.WARNING)
            # A bare payload, straight to the socket.
            bare = (
                "import socket,sys; c=socket.socket(socket.AF_UNIX); c.connect(sys.argv[1]);"
                " c.sendall(sys.argv[2].encode()); c.shutdown(1); c.recv(9)"
            )
            socket_path = str(s.layout.hook_socket(SESSION))
            await s.client(sys.executable, "-c", bare, socket_path, STOP)
            # The real client, from a process that is not the pane's.
            s.pane_pid = int(subprocess.Popen(["sleep", "30"]).pid)
            try:
                assert (await s.hook()).returncode == 0  # Claude's hook never fails
            finally:
                os.kill(s.pane_pid, 9)
                os.waitpid(s.pane_pid, 0)
            assert len(s.events) == 1  # neither reached the turn logic
            warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
            assert any("no key (a bare hook payload)" in w for w in warnings), warnings
            assert any("is not a process of the session's pane" in w for w in warnings)
            assert all(f"uid {os.getuid()} pid " in w for w in warnings if "refused" in w)
            assert not s.layout.hook_spool(SESSION).read_bytes()  # a refusal is not spooled

    run(scenario)


def test_spooled_events_carry_the_key(short_tmp: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with session(short_tmp) as s:
            await s.server.close()  # the worker is gone: the client spools
            assert (await s.hook()).returncode == 0
            spool = s.layout.hook_spool(SESSION)
            with spool.open("ab") as handle:
                handle.write(STOP.encode() + b"\n")  # an old-style line, or a forger's
            assert s.server.spooled()
            caplog.set_level(logging.WARNING)
            assert await s.server.replay_spool() == 1
            assert [(type(e), live) for e, live in s.events] == [(Stop, False)]
            assert any("refused a spooled hook event" in r.getMessage() for r in caplog.records)
            assert spool.exists() and not spool.read_bytes() and not s.server.spooled()

    run(scenario)


READING = json.dumps(
    {"session_id": "s", "cost": {"total_cost_usd": 0.0123},
     "context_window": {"context_window_size": 200000, "used_percentage": 6}}
)  # fmt: skip


def settings_with(folder: Path, command: str, name: str = "settings.json") -> None:
    (folder / ".claude").mkdir(parents=True, exist_ok=True)
    status = {"type": "command", "command": command}
    (folder / ".claude" / name).write_text(json.dumps({"statusLine": status}))


def test_status_readings_reach_the_worker_and_the_operators_own_line_is_shown(
    short_tmp: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home, work = short_tmp / "home", short_tmp / "work"
    work.mkdir()
    home.mkdir()

    async def scenario() -> None:
        async with session(short_tmp) as s:
            # No status line of the operator's: the bridge prints nothing.
            done = await s.status(READING, home, work)
            assert (done.returncode, done.stdout) == (0, "")
            [(reading, pid)] = s.readings
            assert reading.total_cost_usd == 0.0123 and reading.window == 200000
            assert pid == os.getpid() and not s.events  # no hook event, nothing for the turn
            # Theirs (user settings; the work dir's local settings win) gets the same stdin.
            settings_with(home, "echo home")
            assert (await s.status(READING, home, work)).stdout == "home\n"
            settings_with(work, "echo project")
            settings_with(work, "printf 'mine: '; cat", "settings.local.json")
            assert (await s.status(READING, home, work)).stdout == f"mine: {READING}"
            assert len(s.readings) == 3
            # From a process that is not the pane's: refused.
            caplog.set_level(logging.WARNING)
            s.pane_pid = int(subprocess.Popen(["sleep", "30"]).pid)
            try:
                assert (await s.status(READING, home, work)).returncode == 0
            finally:
                os.kill(s.pane_pid, 9)
                os.waitpid(s.pane_pid, 0)
            assert len(s.readings) == 3
            assert any("refused a status" in r.getMessage() for r in caplog.records)
            # No worker listening: nothing spooled (a reading is only worth its freshness),
            # and their line is still shown.
            await s.server.close()
            assert (await s.status(READING, home, work)).stdout == f"mine: {READING}"
            spool = s.layout.hook_spool(SESSION)
            assert not spool.exists() or not spool.read_bytes()

    run(scenario)


def test_a_slow_operator_line_does_not_hold_claude(short_tmp: Path) -> None:
    home, work = short_tmp / "home", short_tmp / "work"
    work.mkdir()
    settings_with(home, "sleep 20; echo late")

    async def scenario() -> None:
        async with session(short_tmp) as s:
            started = asyncio.get_running_loop().time()
            done = await s.status(READING, home, work)
            assert done.returncode == 0 and done.stdout == ""
            assert asyncio.get_running_loop().time() - started < 10
            assert len(s.readings) == 1

    run(scenario)


def test_dp_in_the_pane_posts_only_to_its_own_channel(short_tmp: Path) -> None:
    async def scenario() -> None:
        async with session(short_tmp) as s:
            own = await s.dp("hello")
            assert (own.returncode, own.stdout.strip()) == (0, "posted to this session's channel")
            assert (await s.dp(str(SESSION), "by number")).returncode == 0
            assert (await s.dp(str(CHANNEL), "by channel")).returncode == 0
            for target in ("1", "987654321098765432"):
                refused = await s.dp(target, "elsewhere")
                assert refused.returncode == 1
                assert "posts only to its own channel" in refused.stderr
            note = short_tmp / "note.txt"
            note.write_bytes(b"n" * 10)
            assert (await s.dp("--file", str(note))).returncode == 0
            big = short_tmp / "big.bin"
            big.write_bytes(b"b" * 2000)
            too_big = await s.dp("--file", str(big))
            assert too_big.returncode == 1 and "over Discord's" in too_big.stderr
            posts = [m for m in s.posted if isinstance(m, PanePost)]
            assert [(p.session, p.text) for p in posts] == [
                (SESSION, "hello"), (SESSION, "by number"), (SESSION, "by channel"), (SESSION, ""),
            ]  # fmt: skip
            copy = Path(posts[-1].file_path)
            assert copy.read_bytes() == b"n" * 10 and copy.name == "note.txt"
            assert s.layout.outgoing_dir(SESSION) in copy.parents
            assert stat.S_IMODE(copy.stat().st_mode) == 0o600

    run(scenario)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving files to another group needs root")
def test_the_session_folder_is_shared_with_claudes_group_only(tmp_path: Path) -> None:
    layout = Layout(str(tmp_path))
    group = 65534  # nogroup
    files = SessionFiles(layout, SESSION, group, "/usr/bin/python3")
    key = files.prepare()
    assert files.prepare() == key  # kept across workers
    files.write_settings(b"{}")
    expected = {
        layout.session_run_dir(SESSION): 0o750,
        layout.pane_bin(SESSION): 0o750,
        layout.hook_key(SESSION): 0o640,
        layout.hook_spool(SESSION): 0o660,
        layout.claude_settings(SESSION): 0o640,
        layout.hook_client(SESSION): 0o644,
        layout.pane_dp(SESSION): 0o755,
    }
    for path, mode in expected.items():
        info = path.stat()
        assert (stat.S_IMODE(info.st_mode), info.st_gid) == (mode, group), path
    assert layout.pane_dp(SESSION).read_text().startswith("#!/usr/bin/python3 -IS\n")
    alone = Layout(str(tmp_path / "p"))
    SessionFiles(alone, SESSION, None, sys.executable).prepare()
    folder = alone.session_run_dir(SESSION)
    for path in [folder, *folder.rglob("*")]:
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
