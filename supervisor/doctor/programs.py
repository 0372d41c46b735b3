"""The programs the bridge runs: tmux (3.2 or newer) and the Claude CLI."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from vai.supervisor.child_env import child_environment
from vai.supervisor.config import Config
from vai.supervisor.doctor.findings import Finding, fail, ok, warn

MIN_TMUX = (3, 2)


def _version_tuple(text: str) -> tuple[int, ...]:
    match = re.search(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else ()


def check_tmux() -> Iterator[Finding]:
    program = shutil.which("tmux")
    if program is None:
        yield fail("tmux is not installed", "install it: apt-get install tmux (3.2 or newer)")
        return
    try:
        done = subprocess.run(
            [program, "-V"], capture_output=True, text=True, timeout=10, check=False
        )
        text = (done.stdout or done.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        yield fail(f"tmux does not run: {exc}", "reinstall tmux")
        return
    version = _version_tuple(text)
    if not version:
        yield warn(f"tmux reports an unknown version: {text!r}")
    elif version < MIN_TMUX:
        yield fail(
            f"{text} is too old (3.2 or newer is needed)",
            "install a newer tmux (Debian 12 has 3.3a)",
        )
    else:
        yield ok(text)


def check_claude(config: Config, environ: dict[str, str]) -> Iterator[Finding]:
    command = config.claude_command
    program = command[0]
    found = shutil.which(program) or (program if Path(program).is_file() else None)
    if found is None:
        explicit = bool(environ.get("VAI_CLAUDE_COMMAND")) or config.file.claude.command != "claude"
        if config.uses_local_discord and not explicit:
            yield warn(
                f"the Claude CLI ({program!r}) is not installed: the local demo uses its stand-in",
                "npm install -g @anthropic-ai/claude-code",
            )
        else:
            yield fail(
                f"the Claude command {program!r} was not found",
                "npm install -g @anthropic-ai/claude-code, or set [claude] command /"
                " VAI_CLAUDE_COMMAND",
            )
        return
    try:
        done = subprocess.run(
            [*command, "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
            env=child_environment(environ, config.layout.env_file),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        yield fail(f"{program} --version failed: {exc}", f"run `{program} --version` by hand")
        return
    first = (done.stdout or done.stderr).strip().splitlines()
    if done.returncode != 0 or not first:
        yield warn(
            f"`{' '.join(command)} --version` exited {done.returncode}",
            f"run `{program} --version` by hand and fix what it says",
        )
    else:
        yield ok(f"Claude CLI {first[0]} ({found})")
