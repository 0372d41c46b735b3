"""`vai doctor` on machines with problems: each is found, explained, and fixable.

The Discord checks log in to a local Discord-compatible server (gateway/local_discord),
which can refuse the token or have the Message Content intent switched off.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.support.harness import standin_command
from vai.gateway.local_discord import LocalDiscordThread
from vai.protocol.layout import Layout

TOKEN = "MTAx.doctor.test-token-that-is-long-enough"


def doctor(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("DISCORD_BOT_TOKEN", "TMUX")}
    environ.update(
        VAI_HOME=str(home),
        VAI_CLAUDE_COMMAND=" ".join(standin_command()),
        VAI_CLAUDE_WORK_DIR=str(home.parent),
    )
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "vai.supervisor", "doctor", *args],
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def lines_with(output: str, word: str) -> list[str]:
    return [line for line in output.splitlines() if word in line]


def make_home(home: Path) -> Layout:
    layout = Layout(str(home))
    for directory in (layout.root, layout.run_dir, layout.logs_dir, layout.attachments_dir):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    layout.session_attachments(1).mkdir(mode=0o700)
    layout.env_file.write_text(f"DISCORD_BOT_TOKEN={TOKEN}\n")
    layout.env_file.chmod(0o600)
    return layout


def test_a_healthy_machine_passes_and_the_token_is_never_shown(short_tmp: Path) -> None:
    layout = make_home(short_tmp / "home")
    with LocalDiscordThread(token=TOKEN) as discord:
        done = doctor(layout.root, VAI_DISCORD_API_URL=discord.api_url)
    assert done.returncode == 0, done.stdout
    assert TOKEN not in done.stdout + done.stderr
    assert lines_with(done.stdout, "tmux 3")[0].split()[0] == "ok"
    assert "(Claude Code)" in lines_with(done.stdout, "Claude CLI")[0]
    assert "logged in as" in done.stdout
    assert "Message Content intent is enabled" in done.stdout
    assert "FAIL" not in done.stdout


def test_message_content_intent_off_and_a_refused_token(short_tmp: Path) -> None:
    layout = make_home(short_tmp / "home")
    with LocalDiscordThread(token=TOKEN, message_content_intent_enabled=False) as discord:
        done = doctor(layout.root, VAI_DISCORD_API_URL=discord.api_url)
        assert done.returncode == 1
        intent = lines_with(done.stdout, "Message Content intent is not enabled")
        assert intent and intent[0].split()[0] == "FAIL"
        assert "Privileged Gateway Intents" in done.stdout
        refused = doctor(
            layout.root,
            VAI_DISCORD_API_URL=discord.api_url,
            DISCORD_BOT_TOKEN="MTAx.wrong.token1234567890",
        )
        assert refused.returncode == 1
        assert "Discord refused the bot token from the environment (401)" in refused.stdout
        assert "wrong" not in refused.stdout
    offline = doctor(layout.root, "--offline")
    assert "not checked: --offline" in offline.stdout


def test_permissions_and_stale_files_are_found_and_fixed(short_tmp: Path) -> None:
    layout = make_home(short_tmp / "home")
    layout.env_file.chmod(0o644)
    layout.run_dir.chmod(0o755)
    layout.session_attachments(1).chmod(0o755)
    (layout.session_attachments(1) / "a.png").write_bytes(b"x")
    (layout.session_attachments(1) / "a.png").chmod(0o644)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    layout.pid_file.write_text(f"{dead.pid}\n")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as left:
        left.bind(str(layout.control_socket))  # bound, never listening: a leftover

    done = doctor(layout.root, "--offline", "-q")
    assert done.returncode == 1
    out = done.stdout
    assert f"FAIL  files     .env {layout.env_file} is open to others (mode 0644)" in out
    assert f"fix: chmod 600 {layout.env_file}" in out
    assert f"fix: chmod 700 {layout.run_dir}" in out
    assert f"fix: chmod 700 {layout.session_attachments(1)}" in out
    assert "1 file(s) in" in out
    assert f"stale pid file {layout.pid_file}: pid {dead.pid} (that process is gone)" in out
    assert f"stale socket {layout.control_socket}" in out
    assert "ok" not in [line.split()[0] for line in out.splitlines()[1:-1] if line.strip()]

    fixed = doctor(layout.root, "--offline", "--fix")
    assert fixed.returncode == 0, fixed.stdout
    assert f"fixed: chmod 600 {layout.env_file}" in fixed.stdout
    assert layout.env_file.stat().st_mode & 0o777 == 0o600
    assert layout.run_dir.stat().st_mode & 0o777 == 0o700
    assert (layout.session_attachments(1) / "a.png").stat().st_mode & 0o777 == 0o600
    assert not layout.pid_file.exists() and not layout.control_socket.exists()
    assert "stale" not in doctor(layout.root, "--offline").stdout


def test_missing_programs_and_broken_files(short_tmp: Path) -> None:
    layout = make_home(short_tmp / "home")
    empty = short_tmp / "bin"
    empty.mkdir()
    done = doctor(layout.root, "--offline", PATH=str(empty), VAI_CLAUDE_COMMAND="claude-nowhere")
    assert done.returncode == 1
    assert "FAIL  tmux      tmux is not installed" in done.stdout
    assert "fix: install it: apt-get install tmux" in done.stdout
    assert "the Claude command 'claude-nowhere' was not found" in done.stdout

    layout.config_file.write_text("[claude\n")
    broken = doctor(layout.root, "--offline")
    assert broken.returncode == 1
    assert f"{layout.config_file}: invalid TOML" in broken.stdout
    assert "Traceback" not in broken.stdout + broken.stderr
    layout.config_file.write_text('[limits]\nenforce = "off"\n')
    layout.sessions_file.write_text("{not json")
    bad = doctor(layout.root, "--offline")
    assert f"{layout.sessions_file}: invalid JSON" in bad.stdout
    assert "memory limits are not enforced" in bad.stdout
    assert layout.sessions_file.read_text() == "{not json"  # reported, never overwritten


def test_a_missing_vai_home_is_a_warning_not_a_crash(short_tmp: Path) -> None:
    done = doctor(short_tmp / "nothing-here", "--offline")
    assert "does not exist yet" in done.stdout
    assert "Traceback" not in done.stderr
