"""The machine around the bridge: memory limits (cgroups) and Claude's work dir."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from vai.protocol.layout import Layout
from vai.supervisor.cgroup import MemoryLimiter
from vai.supervisor.config import Config, LimitsSection
from vai.supervisor.doctor.findings import Finding, fail, ok, warn


def check_limits(layout: Layout, limits: LimitsSection) -> Iterator[Finding]:
    plan = MemoryLimiter(layout, limits).choose()
    figures = f"{limits.session_memory_mb} MB per session, {limits.total_memory_mb} MB in total"
    if plan.mode != "off":
        yield ok(f"memory limits ({figures}) enforced with {plan.note}")
    elif limits.enforce == "off":
        yield warn(f"memory limits are not enforced: {plan.note}")
    else:
        yield warn(
            f"memory limits ({figures}) cannot be enforced: {'; '.join(plan.problems)}",
            "run under systemd with deploy/vai.service (Delegate=yes), or with a user"
            ' systemd (loginctl enable-linger), or set [limits] enforce = "off" to accept it',
        )


def configured_work_dir(config: Config, environ: dict[str, str]) -> bool:
    """Whether vai.toml, .env or the environment names Claude's work dir (otherwise it is
    wherever `vai run` starts, which doctor's own directory says nothing about)."""
    from vai.supervisor.config import parse_env_file

    named = environ.get("VAI_CLAUDE_WORK_DIR") or config.file.claude.work_dir
    return bool(named or parse_env_file(config.layout.env_file).get("VAI_CLAUDE_WORK_DIR"))


def running_work_dir(supervisor_pid: int | None) -> Path | None:
    """The running supervisor's directory: the work dir when none is configured."""
    if supervisor_pid is None:
        return None
    try:
        return Path(os.readlink(f"/proc/{supervisor_pid}/cwd"))
    except OSError:
        return None


def check_work_dir(
    config: Config, environ: dict[str, str] | None = None, supervisor_pid: int | None = None
) -> Iterator[Finding]:
    work = Path(config.claude_work_dir)
    if environ is not None and not configured_work_dir(config, environ):
        running = running_work_dir(supervisor_pid)
        if running is None:
            yield warn(
                "Claude's work dir is not set: it is the directory `vai run` starts in"
                " (under systemd, the unit's WorkingDirectory=)",
                f"set [claude] work_dir in {config.layout.config_file} (`vai init --force"
                " --work-dir DIR` writes it)",
            )
            return
        work = running
    if not work.is_dir():
        yield fail(
            f"Claude's work dir {work} does not exist",
            f"mkdir -p {work}, or set [claude] work_dir",
        )
    elif not os.access(work, os.W_OK | os.X_OK):
        yield fail(
            f"Claude's work dir {work} is not writable by you", f"chown {os.geteuid()} {work}"
        )
    else:
        yield ok(f"Claude's work dir {work}")
    try:
        free = shutil.disk_usage(config.layout.root if config.layout.root.exists() else work).free
    except OSError:
        return
    if free < 200 * 1024 * 1024:
        yield warn(f"only {free // (1024 * 1024)} MB free for VAI_HOME", "free some disk space")
