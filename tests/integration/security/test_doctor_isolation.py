"""`vai doctor` and `vai init` set up Claude's own user as root, and doctor checks the
isolation by probing as that user."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.harness import standin_command
from tests.support.users import remove_user, unique_name
from vai.protocol.layout import Layout

pytestmark = [pytest.mark.timeout(120)]

needs_root = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("useradd") is None, reason="needs root and useradd"
)


def vai(home: Path, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DISCORD_BOT_TOKEN", "TMUX")}
    environ.update(
        VAI_HOME=str(home),
        VAI_CLAUDE_COMMAND=" ".join(standin_command()),
        VAI_CLAUDE_WORK_DIR=str(work),
    )
    return subprocess.run(
        [sys.executable, "-m", "vai.supervisor", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )


def lines(output: str, word: str) -> list[str]:
    return [line for line in output.splitlines() if word in line]


@needs_root
def test_doctor_fix_creates_claudes_user_and_then_finds_the_isolation_in_force(
    short_tmp: Path,
) -> None:
    name = unique_name("vd")
    short_tmp.chmod(0o711)
    work = short_tmp / "work"
    work.mkdir(mode=0o700)
    home = short_tmp / "vai"
    try:
        init = vai(home, work, "init", "--no-input", "--claude-user", name, "--work-dir", str(work))
        assert init.returncode == 0, init.stderr
        assert f"created user {name}" in init.stdout
        assert f"Claude runs as {name}" in init.stdout
        assert f'user = "{name}"' in Layout(str(home)).config_file.read_text()
        user = pwd.getpwnam(name)
        assert user.pw_dir == f"/var/lib/{name}" and user.pw_shell == "/bin/bash"
        assert work.stat().st_gid == user.pw_gid and work.stat().st_mode & 0o2070 == 0o2070

        # The bridge makes VAI_HOME traversable when it runs; doctor checks what it finds.
        home.chmod(0o711)
        done = vai(home, work, "doctor", "--offline")
        ok = lines(done.stdout, "  user  ")
        assert ok[0].startswith(f"  ok    user      Claude runs as {name} (uid {user.pw_uid})")
        assert "cannot read .env" in ok[0]
        assert any(f"{name} can write Claude's work dir" in line for line in ok)

        # Gone: doctor fails it, --fix makes it again.
        remove_user(name)
        shutil.rmtree(f"/var/lib/{name}", ignore_errors=True)
        missing = vai(home, work, "doctor", "--offline")
        assert missing.returncode == 1
        assert f"FAIL  user      Claude's user {name} does not exist" in missing.stdout
        fixed = vai(home, work, "doctor", "--offline", "--fix")
        assert "fixed: `vai doctor --fix` as root creates it" in fixed.stdout, fixed.stdout
        assert f"ok    user      Claude runs as {name}" in fixed.stdout
    finally:
        remove_user(name)
        shutil.rmtree(f"/var/lib/{name}", ignore_errors=True)


def test_init_without_a_claude_user_warns(short_tmp: Path) -> None:
    done = vai(short_tmp / "vai", short_tmp, "init", "--no-input")
    assert done.returncode == 0
    assert "warning: Claude runs as the bridge's own user and can read the bot token" in (
        done.stdout
    )
    bad = vai(short_tmp / "vai2", short_tmp, "init", "--no-input", "--claude-user", "Bad Name")
    assert bad.returncode == 1 and "--claude-user: 'Bad Name' is not a user name" in bad.stderr
