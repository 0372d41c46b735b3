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


def check_work_dir(config: Config) -> Iterator[Finding]:
    work = Path(config.claude_work_dir)
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
