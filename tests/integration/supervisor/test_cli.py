"""`vai`: every command's output and exit code, with the supervisor down and up.

Real processes throughout: `python -m vai.supervisor ...` as an operator runs it, and for the
live half a whole bridge (tests/support/stack.py) with five sessions, one of which cannot start.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import tomllib
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.harness import standin_command, wait_until
from tests.support.stack import Stack, running_stack
from tests.support.tmux import TmuxServer
from vai.protocol.layout import Layout
from vai.supervisor.cli import build_parser, load_commands
from vai.supervisor.commands.view import claude_sessions, panes_per_window

CHANNEL = 1234567890123456789


class Vai:
    """`vai` against one VAI_HOME with no supervisor running."""

    def __init__(self, home: Path, tmux_socket: str) -> None:
        self.home = home
        self.layout = Layout(str(home))
        self.env = {
            **os.environ,
            "VAI_HOME": str(home),
            "VAI_TMUX_SOCKET": tmux_socket,
            "VAI_CLAUDE_WORK_DIR": str(home.parent),
        }
        for secret in ("DISCORD_BOT_TOKEN", "ENCRYPTION_KEY", "TMUX"):
            self.env.pop(secret, None)

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vai.supervisor", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            input=stdin,
            check=False,
        )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("vai: ")
    return lines[0]


@pytest.fixture
def vai(short_tmp: Path, tmux_server: TmuxServer) -> Iterator[Vai]:
    yield Vai(short_tmp / "home", tmux_server.socket_name)


# -- help and usage ------------------------------------------------------------------------


def test_every_command_has_help_from_its_docstring(capsys: pytest.CaptureFixture[str]) -> None:
    commands = load_commands()
    assert set(commands) >= {
        "init", "run", "start", "stop", "status", "add-session", "remove-session",
        "list-sessions", "recover", "tail", "attach", "view", "doctor",
    }  # fmt: skip
    parser = build_parser(commands)
    for name, module in commands.items():
        with pytest.raises(SystemExit) as exited:
            parser.parse_args([name, "--help"])
        assert exited.value.code == 0
        out = capsys.readouterr().out
        summary = (module.__doc__ or "").strip().splitlines()[0]
        assert summary in out, name
        assert out.startswith(f"usage: vai {name}")


def test_usage_errors_exit_2(vai: Vai) -> None:
    assert vai().returncode == 2
    assert vai("frobnicate").returncode == 2
    assert vai("recover", "abc").returncode == 2
    assert vai("add-session", "-5").returncode == 2
    done = vai("--help")
    assert done.returncode == 0
    assert "exit codes" in done.stdout
    version = vai("--version")
    assert version.returncode == 0 and version.stdout.startswith("vai 0.")


# -- with the supervisor down ---------------------------------------------------------------


def test_commands_with_the_supervisor_down(vai: Vai) -> None:
    status = vai("status")
    assert status.returncode == 4
    assert status.stdout == ""
    assert "not running" in one_line_error(status)

    posted = subprocess.run(
        [sys.executable, "-m", "vai.supervisor.dp", "1", "hello"],
        env=vai.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert posted.returncode == 4
    assert posted.stderr.startswith("dp: the supervisor is not running")

    as_json = vai("status", "--json")
    assert as_json.returncode == 4
    assert json.loads(as_json.stdout)["supervisor"]["state"] == "UNREACHABLE"

    stopped = vai("stop")
    assert (stopped.returncode, stopped.stdout.strip()) == (0, "the supervisor is not running")

    recover = vai("recover", "1")
    assert recover.returncode == 4
    one_line_error(recover)

    listed = vai("list-sessions")
    assert listed.returncode == 0
    assert "no sessions" in listed.stdout

    added = vai("add-session", str(CHANNEL))
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("Success: Session 1 added")
    assert json.loads(vai.layout.sessions_file.read_text()) == {"1": str(CHANNEL)}
    directory = vai.layout.session_attachments(1)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700

    again = vai("add-session", str(CHANNEL))
    assert again.returncode == 1
    assert "already session 1" in one_line_error(again)
    assert vai("add-session", str(CHANNEL + 1)).stdout.startswith("Success: Session 2 added")

    listed = vai("list-sessions")
    rows = [line.split() for line in listed.stdout.splitlines()]
    assert rows[0] == ["SESSION", "CHANNEL", "WORK", "DIR"]
    assert [r[:2] for r in rows[1:]] == [["1", str(CHANNEL)], ["2", str(CHANNEL + 1)]]
    assert json.loads(vai("list-sessions", "--json").stdout)[1]["channel_id"] == str(CHANNEL + 1)

    (directory / "photo.png").write_bytes(b"x")
    vai.layout.logs_dir.mkdir(parents=True, exist_ok=True)
    vai.layout.session_log(1).write_text("a line\n")
    kept = vai("remove-session", "1")
    assert (kept.returncode, kept.stdout.strip()) == (
        0,
        "Session 1 removed (attachments and log kept)",
    )
    assert (directory / "photo.png").exists()
    purged = vai("remove-session", "2", "--purge")
    assert purged.returncode == 0
    assert not vai.layout.session_attachments(2).exists()
    missing = vai("remove-session", "9")
    assert missing.returncode == 1
    assert one_line_error(missing) == "vai: no session 9"


def test_tail_shows_and_follows_a_log(vai: Vai) -> None:
    missing = vai("tail", "1")
    assert missing.returncode == 1
    assert "no log yet" in one_line_error(missing)
    assert vai("tail", "nonsense").returncode == 2  # bad usage, like `vai tail ²`

    log = vai.layout.session_log(1)
    log.parent.mkdir(parents=True)
    log.write_text("".join(f"line {i}\n" for i in range(100)))
    shown = vai("tail", "1", "-n", "3")
    assert (shown.returncode, shown.stdout) == (0, "line 97\nline 98\nline 99\n")

    follower = subprocess.Popen(
        [sys.executable, "-m", "vai.supervisor", "tail", "1", "-f", "-n", "1"],
        env=vai.env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "line 99\n"
        with open(log, "a") as handle:
            handle.write("a new line\n")
        assert follower.stdout.readline() == "a new line\n"
    finally:
        follower.kill()
        follower.wait()


def test_attach_and_view_without_sessions_fail_clearly(vai: Vai) -> None:
    attach = vai("attach", "1")
    assert attach.returncode == 1
    assert "no tmux session claude-session-1" in one_line_error(attach)
    view = vai("view", "--no-attach")
    assert view.returncode == 1
    assert "no Claude session is running" in one_line_error(view)


def test_init_writes_config_and_secrets_and_never_overwrites(vai: Vai) -> None:
    token = "MTIz.NDU2.Nzg5" + "x" * 20
    done = vai("init", "--no-input", "--token-stdin", "--channel", str(CHANNEL),
               "--channel", str(CHANNEL + 1), "--owner", "424242424242424242",
               stdin=token + "\n")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert tomllib.loads(vai.layout.config_file.read_text())["discord"]["owners"] == [
        424242424242424242
    ]
    assert token not in done.stdout + done.stderr
    env_file = vai.layout.env_file
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert f"DISCORD_BOT_TOKEN={token}" in env_file.read_text()
    assert stat.S_IMODE(vai.home.stat().st_mode) == 0o700
    assert json.loads(vai.layout.sessions_file.read_text()) == {
        "1": str(CHANNEL),
        "2": str(CHANNEL + 1),
    }
    assert "[claude]" in vai.layout.config_file.read_text()
    assert vai("list-sessions").returncode == 0  # the files it wrote load

    again = vai("init", "--no-input", "--token-stdin", stdin=token)
    assert again.returncode == 1
    assert "use --force" in one_line_error(again)
    assert f"DISCORD_BOT_TOKEN={token}" in env_file.read_text()

    assert vai("init", "--no-input", "--token-stdin", "--force", stdin="short").returncode == 1
    # Any number of channels (the issue: at most 3 were taken).
    five = [f"--channel={CHANNEL + i}" for i in range(5)]
    assert vai("init", "--no-input", "--force", *five).returncode == 0
    assert len(json.loads(vai.layout.sessions_file.read_text())) == 5
    # --force keeps the saved token when no new one is given (the issue: it was dropped).
    assert f"DISCORD_BOT_TOKEN={token}" in env_file.read_text()

    forced = vai("init", "--no-input", "--force", "--encrypt", "--channel", str(CHANNEL))
    assert forced.returncode == 0, forced.stderr
    assert f"DISCORD_BOT_TOKEN={token}" in env_file.read_text()
    key = next(line for line in env_file.read_text().splitlines() if "ENCRYPTION_KEY=" in line)
    stored = json.loads(vai.layout.sessions_file.read_text())["1"]
    assert stored != str(CHANNEL)  # encrypted
    listed = vai("list-sessions")
    assert str(CHANNEL) in listed.stdout
    # Again with --force: the key stays (a new one could not read sessions.json).
    assert vai("init", "--no-input", "--force", "--encrypt").returncode == 0
    assert key in env_file.read_text().splitlines()
    assert str(CHANNEL) in vai("list-sessions").stdout


def test_init_asks_again_after_a_typo(vai: Vai) -> None:
    import pexpect

    token = "MTIz.NDU2.Nzg5" + "t" * 20
    child = pexpect.spawn(
        sys.executable, ["-m", "vai.supervisor", "init"], env=vai.env, encoding="utf-8",
        timeout=20,
    )  # fmt: skip
    try:
        child.expect("Discord bot token")
        child.sendline("not a token")
        child.expect("does not look like a Discord bot token.*try again")
        child.expect("Discord bot token")
        child.sendline(token)
        child.expect("Copy User ID")  # how to find one's id, then the owner question
        child.expect("Owner's Discord user id")
        child.sendline("me")
        child.expect("try again")
        child.expect("Owner's Discord user id")
        child.sendline("424242424242424242")
        for number in range(1, 5):
            child.expect(f"Channel id for session {number}")
            if number == 2:
                child.sendline("12x45")  # a typo: explained, and asked again
                child.expect("try again")
                child.expect("Channel id for session 2")
            child.sendline(str(CHANNEL + number))
        child.expect("Channel id for session 5")
        child.sendline("")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before
    sessions = json.loads(vai.layout.sessions_file.read_text())
    assert sessions == {str(n): str(CHANNEL + n) for n in range(1, 5)}
    assert f"DISCORD_BOT_TOKEN={token}" in vai.layout.env_file.read_text()
    owners = tomllib.loads(vai.layout.config_file.read_text())["discord"]["owners"]
    assert owners == [424242424242424242]


def test_init_never_takes_the_token_from_argv(vai: Vai) -> None:
    token = "MTIz.NDU2.Nzg5" + "y" * 20
    refused = vai("init", "--no-input", "--token", token)
    assert refused.returncode == 2
    assert "--token is not taken" in refused.stderr and "Reset Token" in refused.stderr
    assert not vai.layout.env_file.exists()
    assert "--token " not in vai("init", "--help").stdout
    assert vai("init", "--no-input", "--token-stdin", stdin="").returncode == 1

    vai.env["DISCORD_BOT_TOKEN"] = token
    done = vai("init", "--no-input")
    assert done.returncode == 0, done.stderr
    assert f"DISCORD_BOT_TOKEN={token}" in vai.layout.env_file.read_text()
    assert token not in done.stdout + done.stderr


def test_panes_per_window_fits_the_terminal() -> None:
    assert panes_per_window(200, 50) >= 50
    assert panes_per_window(80, 24) == 9  # 3 x 3 panes of 26 x 7
    assert panes_per_window(10, 3) == 1
    assert panes_per_window(200, 50, limit=4) == 4


# -- with a running bridge ------------------------------------------------------------------

FAILS_FOR_SESSION_3 = [
    "sh", "-c",
    'if [ "$VAI_SESSION" = 3 ]; then echo "no claude here" >&2; exit 7; fi; exec "$@"',
    "sh", *standin_command(),
]  # fmt: skip
FAST_FATAL = """
[supervisor]
backoff_base = 0.05
start_retries = 2
[claude]
ready_timeout = 3
"""


def table_lines(status: str) -> list[str]:
    """`vai status` without its isolation line (supervisor/isolation.py)."""
    return [line for line in status.splitlines() if not line.startswith("isolation: ")]


def test_live_commands_with_five_sessions_one_fatal(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    with running_stack(short_tmp, tmux_server, channels=5, claude_command=FAILS_FOR_SESSION_3) as (
        stack,
        channels,
    ):
        stack.write_config(FAST_FATAL)
        stack.start()

        def settled() -> subprocess.CompletedProcess[str] | None:
            done = stack.vai("status")
            lines = table_lines(done.stdout)
            states = [line.split()[2] for line in lines[2:]]
            return done if states.count("RUNNING") == 5 and "FATAL" in states else None

        status = wait_until(settled, 60, "four sessions RUNNING and session 3 FATAL", 0.2)
        assert status.returncode == 3
        lines = table_lines(status.stdout)
        assert "\nisolation: NONE — Claude runs as " in status.stdout  # below the table
        assert lines[0].startswith("supervisor pid ")
        assert "4 of 5 sessions running" in lines[0]
        header = lines[1]
        columns = ["SESSION", "CHANNEL", "STATE", "PID", "UPTIME", "CLAUDE", "QUEUED", "MEMORY"]
        assert header.split() == columns
        starts = [header.index(c) for c in columns]
        rows = {line.split()[0]: line for line in lines[2:]}
        assert list(rows) == ["gateway", "1", "2", "3", "4", "5"]
        for key, row in rows.items():
            for column, start in zip(columns, starts, strict=True):
                assert row[start] != " ", f"{key}: {column} not aligned in {row!r}"
        for key in ("1", "2", "4", "5"):
            cells = rows[key].split()
            assert cells[1] == str(channels[int(key) - 1])
            assert cells[2] == "RUNNING"
            assert cells[3].isdigit()
            assert cells[5] == "idle"
            assert cells[7].endswith("M")
        fatal = rows["3"].split()
        assert fatal[2:4] == ["FATAL", "-"]
        assert "gave up after 2 failed starts" in rows["3"]

        document = json.loads(stack.vai("status", "--json").stdout)
        by_session = {s["session"]: s for s in document["sessions"]}
        assert document["gateway"]["state"] == "RUNNING"
        assert by_session[3]["state"] == "FATAL"
        assert by_session[1]["channel_id"] == str(channels[0])  # a string, as Discord's API
        assert document["all_running"] is False
        running = by_session[1]
        assert running["claude_pid"] and running["memory_bytes"] > 10 * 1024 * 1024
        assert stack.vai("status", "--json").returncode == 3

        # A recover starts it again (and it fails again: FATAL is cleared, then back).
        recovered = stack.vai("recover", "3")
        assert (recovered.returncode, recovered.stdout.strip()) == (0, "Session 3 restarting")
        missing = stack.vai("recover", "9")
        assert (missing.returncode, missing.stderr.strip()) == (1, "vai: no session 9")

        post_with_dp(stack.env, stack, channels, stack.home.parent)

        # Session 3's tmux session may be there too, its pane dead: the view shows it.
        shown = claude_sessions(tmux_server.socket_name)
        assert {1, 2, 4, 5} <= set(shown)
        view_and_attach(stack.env, tmux_server, shown)

        removed = stack.vai("remove-session", "3")
        assert removed.returncode == 0, removed.stderr
        wait_until(lambda: stack.vai("status").returncode == 0, 30, "all RUNNING once 3 is gone")
        assert "Traceback" not in stack.vai("status").stderr

        stopped = stack.vai("stop")
        assert (stopped.returncode, stopped.stdout.strip()) == (0, "stopped")
        assert stack.vai("status").returncode == 4


def dp(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vai.supervisor.dp", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def post_with_dp(env: dict[str, str], stack: Stack, channels: list[int], tmp: Path) -> None:
    """`dp` to a session, from stdin, with a file, to a channel id, and inside a pane."""
    done = dp(env, "1", "hello from dp")
    assert done.returncode == 0, done.stderr
    stack.wait_bot_message(channels[0], "hello from dp")
    assert dp(env, "2", stdin="piped text").returncode == 0
    stack.wait_bot_message(channels[1], "piped text")
    report = tmp / "report.txt"
    report.write_text("the report")
    assert dp(env, "4", "--file", str(report)).returncode == 0

    def uploaded() -> bool:
        return any(m["attachments"] for m in stack.bot_messages(channels[3]))

    stack.discord.wait_for(uploaded, 15, "the uploaded file")
    assert dp(env, str(channels[4]), "by channel id").returncode == 0
    stack.wait_bot_message(channels[4], "by channel id")
    inside = dp({**env, "VAI_SESSION": "5"}, "from the pane")
    assert inside.returncode == 0, inside.stderr
    stack.wait_bot_message(channels[4], "from the pane")
    unknown = dp(env, "9", "nobody")
    assert (unknown.returncode, unknown.stderr.strip()) == (1, "dp: no session 9")
    assert dp(env, "1", "--file", str(tmp / "missing")).returncode == 1


def view_and_attach(env: dict[str, str], tmux: TmuxServer, sessions: list[int]) -> None:
    """`vai view` and `vai attach` in terminals of their own (another tmux server)."""
    built = subprocess.run(
        [sys.executable, "-m", "vai.supervisor", "view", "--no-attach"],
        env={**env, "COLUMNS": "160", "LINES": "40"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    assert built.stdout.startswith(f"vai-view: {len(sessions)} session(s) in 1 window(s)")
    titles = tmux.run("list-panes", "-s", "-t", "=vai-view", "-F", "#{pane_title}").split("\n")
    assert [t for t in titles if t] == [f"session {n}" for n in sessions]
    tmux.run("kill-session", "-t", "=vai-view")
    # Without a terminal, `vai view` says so and leaves no vai-view session behind.
    headless = subprocess.run(
        [sys.executable, "-m", "vai.supervisor", "view"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    assert headless.returncode == 1 and "needs a terminal" in headless.stderr
    assert not tmux.has_session("vai-view")

    terminal = TmuxServer(f"vai-term-{uuid.uuid4().hex[:8]}")
    try:
        command = [sys.executable, "-m", "vai.supervisor", "attach", "-r", "1"]
        terminal.run(
            "new-session", "-d", "-x", "120", "-y", "40",
            *[f"-e{k}={v}" for k, v in env.items() if k.startswith("VAI_")],
            subprocess.list2cmdline(command),
        )  # fmt: skip

        def attached(name: str) -> bool:
            clients = tmux.run("list-clients", "-F", "#{client_session}", check=False)
            return name in clients.split()

        wait_until(lambda: attached("claude-session-1"), 15, "vai attach's client")
        size = tmux.run("display-message", "-p", "-t", "=claude-session-1:", "#{window_width}")
        assert size.strip() == "200"  # the terminal did not resize Claude's pane

        terminal.run(
            "new-window", "-d",
            *[f"-e{k}={v}" for k, v in env.items() if k.startswith("VAI_")],
            subprocess.list2cmdline([sys.executable, "-m", "vai.supervisor", "view"]),
        )  # fmt: skip
        wait_until(lambda: attached("vai-view"), 15, "vai view's client")
        wait_until(
            lambda: all(attached(f"claude-session-{n}") for n in sessions),
            15,
            "every pane of the view attached to its session",
        )
    finally:
        terminal.kill()
    wait_until(lambda: not tmux.has_session("vai-view"), 15, "the view to go with its last client")


def test_start_and_stop_in_the_background(short_tmp: Path, tmux_server: TmuxServer) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, _):
        started = stack.vai("start")
        assert started.returncode == 0, started.stderr + stack.output()
        assert started.stdout.startswith("supervisor started (pid ")
        pid = int(started.stdout.split("pid ")[1].split(")")[0])
        try:
            again = stack.vai("start")
            assert (again.returncode, again.stdout.strip()) == (
                0,
                f"the supervisor is already running (pid {pid})",
            )
            stack.wait_all_running()
            assert "all 1 sessions running" in stack.layout.process_log("supervisor").read_text()
            stopped = stack.vai("stop")
            assert (stopped.returncode, stopped.stdout.strip()) == (0, "stopped")
            assert stack.vai("status").returncode == 4
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, 9)


def test_status_rendering_is_aligned_and_says_why() -> None:
    from vai.common.status_view import render_status, status_document, status_exit_code
    from vai.protocol.messages import SessionInfo, StatusReply

    reply = StatusReply(
        supervisor_pid=10,
        uptime_s=90061.0,
        gateway_state="RUNNING",
        gateway_pid=11,
        sessions=[
            SessionInfo(
                session=1,
                channel_id=5,
                work_dir="/w",
                state="RUNNING",
                pid=12,
                uptime_s=3.0,
                claude_state="permission",
                queued=2,
                memory_bytes=50 * 1024 * 1024,
                detail="ready",
            ),
            SessionInfo(
                session=12,
                channel_id=123456789012345678,
                work_dir="/w",
                state="FATAL",
                detail="exit status 2; gave up",
            ),
        ],
        problems=["Discord refused the bot token"],
    )
    text = render_status(reply)
    lines = text.splitlines()
    assert lines[0] == "supervisor pid 10, up 1d 1:01:01; 1 of 2 sessions running"
    assert lines[2].split()[:3] == ["gateway", "-", "RUNNING"]
    assert "waiting for permission" in lines[3] and "50.0M" in lines[3]
    assert lines[3].rstrip().endswith("50.0M")  # no detail for a running session
    assert lines[4].endswith("exit status 2; gave up")
    assert lines[-1] == "problem: Discord refused the bot token"
    assert lines[1].index("STATE") == lines[4].index("FATAL")
    assert status_exit_code(reply) == 3
    document = status_document(reply)
    assert document["sessions"][1]["state"] == "FATAL" and document["all_running"] is False
