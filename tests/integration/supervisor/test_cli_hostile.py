"""Hostile arguments and files for `vai` and `dp`: a clear line and an exit code, never a
traceback, and nothing half-added.

A table of arguments rather than a fuzzer: digits of other scripts (`str.isdigit()` takes
"²", `int()` refuses it and takes "٣"), ids past 64 bits, bytes that are not UTF-8.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vai.protocol.ids import MAX_ID

CHANNEL = 1234567890123456789
TOO_BIG = [str(MAX_ID + 1), str(2**64), "9" * 40]
OTHER_DIGITS = ["²", "٣", "１", "𝟙"]

Arg = str | bytes


def run(home: Path, program: list[str], *args: Arg) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISCORD_BOT_TOKEN", "VAI_SESSION")}
    env |= {"VAI_HOME": str(home), "VAI_TMUX_SOCKET": f"vai-test-hostile-{os.getpid()}"}
    return subprocess.run(
        [*program, *args],
        env=env,
        capture_output=True,
        text=True,
        errors="replace",
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )


VAI = [sys.executable, "-m", "vai.supervisor"]
DP = [sys.executable, "-m", "vai.supervisor.dp"]


def each(command: str, bad: list[Arg]) -> list[tuple[str, list[Arg]]]:
    return [(command, [arg]) for arg in bad]


USAGE_ERRORS: list[tuple[str, list[Arg]]] = [
    *each("tail", [*OTHER_DIGITS, *TOO_BIG, "0", "-3", "", "gateway2", b"\xff"]),
    *each("recover", [*OTHER_DIGITS, *TOO_BIG, "0", b"\xff"]),
    *each("attach", [*OTHER_DIGITS, *TOO_BIG]),
    *each("remove-session", [*OTHER_DIGITS, *TOO_BIG, "1e3"]),
    *each("add-session", [*OTHER_DIGITS, *TOO_BIG, "-1", "0x10", " ", b"\xff"]),
    ("tail", ["1", "-n", "²"]),
    ("view", ["--per-window", "²"]),
    ("init", ["--no-input", "--channel", "²"]),
    ("init", ["--no-input", "--owner", "²"]),
]


@pytest.mark.parametrize(("command", "args"), USAGE_ERRORS)
def test_bad_arguments_are_a_usage_error(short_tmp: Path, command: str, args: list[Arg]) -> None:
    done = run(short_tmp / "home", VAI, command, *args)
    assert "Traceback" not in done.stderr
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1].startswith(f"vai {command}: error: ")
    assert not (short_tmp / "home" / "sessions.json").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["²", "hi"],
        ["٣", "hi"],
        [str(MAX_ID + 1), "hi"],
        ["9" * 40, "hi"],
        ["²", "--file", "/etc/hostname"],
    ],
)
def test_dp_refuses_a_target_that_is_no_session_or_channel(
    short_tmp: Path, args: list[str]
) -> None:
    done = run(short_tmp / "home", DP, *args)
    assert "Traceback" not in done.stderr
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1].startswith("dp: error: ")


@pytest.mark.parametrize("args", [[b"\xff\xfe"], ["1", b"caf\xe9"], ["--file", b"/tmp/\xff"]])
def test_dp_with_bytes_that_are_not_utf8_fails_cleanly(short_tmp: Path, args: list[Arg]) -> None:
    done = run(short_tmp / "home", DP, *args)
    assert "Traceback" not in done.stderr
    assert done.returncode in (1, 4), done.stderr  # no such file / no supervisor running
    assert len(done.stderr.splitlines()) == 1


@pytest.mark.parametrize(
    "sessions",
    [
        {"1": str(MAX_ID + 1)},
        {"1": str(2**64)},
        {"1": "²"},
        {"1": "٣"},
        {"²": str(CHANNEL)},
        {str(MAX_ID + 1): str(CHANNEL)},
        {"1": -5},
        {"1": True},
        {"1": "\udfff"},
        {"1": "gAAAAABnot-a-token"},
    ],
)
def test_a_sessions_file_with_bad_ids_is_one_clear_error(
    short_tmp: Path, sessions: dict[str, object]
) -> None:
    home = short_tmp / "home"
    home.mkdir()
    (home / "sessions.json").write_text(json.dumps(sessions))
    for command in (["list-sessions"], ["add-session", str(CHANNEL)], ["remove-session", "1"]):
        done = run(home, VAI, *command)
        assert "Traceback" not in done.stderr
        assert done.returncode == 1, (command, done.stderr)
        lines = done.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"vai: {home / 'sessions.json'}: ")
    assert json.loads((home / "sessions.json").read_text()) == sessions  # never overwritten


def memory_group(home: Path) -> Path | None:
    """Where `vai run` would make its memory cgroup for this VAI_HOME (None: no cgroups)."""
    from vai.protocol.layout import Layout
    from vai.supervisor.cgroup import MemoryLimiter
    from vai.supervisor.config import LimitsSection

    limiter = MemoryLimiter(Layout(str(home)), LimitsSection())
    plan = limiter.choose()
    return plan.base / limiter.name if plan.base is not None else None


@pytest.mark.parametrize("broken", ["sessions.json", "state/inbox.sqlite3"])
def test_vai_run_that_cannot_start_leaves_nothing_behind(short_tmp: Path, broken: str) -> None:
    home = short_tmp / "home"
    home.mkdir()
    if broken == "sessions.json":
        (home / "sessions.json").write_text('{"1": "123", ')
    else:
        (home / "state" / "inbox.sqlite3").mkdir(parents=True)  # not a database
    group = memory_group(home)
    done = run(home, VAI, "run")
    assert "Traceback" not in done.stderr
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert lines[-1].startswith(f"vai: {home / broken}: "), done.stderr
    if broken == "sessions.json":  # read before anything else is done (or logged)
        assert len(lines) == 1, done.stderr
    assert group is None or not group.exists(), f"{group} left behind"
    run_dir = home / "run"
    assert not (run_dir / "supervisor.pid").exists()
    assert not list(run_dir.glob("*.sock")) if run_dir.exists() else True
