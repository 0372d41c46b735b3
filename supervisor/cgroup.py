"""Memory limits for Claude panes: a cgroup the supervisor owns, or systemd-run scopes.

The seed design limits each session to 512 MB and all of them to 2 GB. Claude runs in a
tmux pane, a child of the tmux server, so the limit is put on the pane's command line:

- **cgroup** (v2 or v1 memory hierarchy): the supervisor creates `vai-<id>/` (the total
  limit) with one `session-N/` (the session's limit) below its own cgroup, and Claude is
  started as `sh -c 'echo $$ > DIR/session-$VAI_SESSION/cgroup.procs; exec "$@"' DIR claude
  ...`: it joins its cgroup before it becomes Claude, so everything it starts is counted.
  On cgroup v2 the supervisor's cgroup must be delegated to it (systemd `Delegate=yes`,
  see deploy/); the supervisor then moves itself into a leaf `vai-supervisor/` first, as
  v2 allows controllers only below cgroups without processes.
- **systemd**: `systemd-run [--user] --scope -p MemoryMax=... --slice=vai-<id>.slice`.

`auto` tries them in that order; when neither works the bridge runs without limits, says
so in its log, and `vai doctor` warns. Nothing here raises: a limit that cannot be set is
a warning, never a reason not to run.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vai.protocol.layout import Layout
from vai.supervisor.child_env import child_environment
from vai.supervisor.config import LimitsSection

log = logging.getLogger("supervisor.cgroup")

MB = 1024 * 1024
JOIN_SNIPPET = 'echo $$ > "$0/session-$VAI_SESSION/cgroup.procs" 2>/dev/null; exec "$@"'
SUPERVISOR_LEAF = "vai-supervisor"


@dataclass(frozen=True)
class CgroupProbe:
    """Where this process sits in the cgroup hierarchies that matter for memory."""

    v2_dir: Path | None = None
    v1_memory_dir: Path | None = None


def _unescape(path: str) -> str:
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\134", "\\")


def probe(proc: Path = Path("/proc/self")) -> CgroupProbe:
    """Read /proc/self/cgroup and mountinfo: this process's v2 dir and v1 memory dir."""
    try:
        membership = (proc / "cgroup").read_text().splitlines()
        mounts = (proc / "mountinfo").read_text().splitlines()
    except OSError:
        return CgroupProbe()
    v2_path = v1_path = None
    for line in membership:
        number, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if number == "0" and controllers == "":
            v2_path = path
        elif "memory" in controllers.split(","):
            v1_path = path
    v2_dir = v1_dir = None
    for line in mounts:
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, mountpoint, fstype = _unescape(fields[3]), _unescape(fields[4]), tail[0]

        def join(path: str, root: str = root, mountpoint: str = mountpoint) -> Path:
            relative = path[len(root) :] if root != "/" and path.startswith(root) else path
            return Path(mountpoint) / relative.lstrip("/")

        if fstype == "cgroup2" and v2_path is not None and v2_dir is None:
            v2_dir = join(v2_path)
        elif fstype == "cgroup" and v1_path is not None and "memory" in tail[2].split(","):
            v1_dir = join(v1_path)
    return CgroupProbe(v2_dir=v2_dir, v1_memory_dir=v1_dir)


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


@dataclass
class Plan:
    """What a limiter will do (or why it cannot): for the supervisor and `vai doctor`."""

    mode: str  # "cgroup-v2", "cgroup-v1", "systemd" or "off"
    note: str
    base: Path | None = None
    systemd_user: bool = False
    problems: list[str] = field(default_factory=list)


Runner = Callable[[list[str]], int]


def _run_quietly(argv: list[str]) -> int:
    env = child_environment()  # `systemd-run ... true` runs a command: no secrets for it
    try:
        done = subprocess.run(argv, capture_output=True, timeout=10, check=False, env=env)
        return done.returncode
    except (OSError, subprocess.TimeoutExpired):
        return 127


class MemoryLimiter:
    def __init__(
        self,
        layout: Layout,
        limits: LimitsSection,
        *,
        probe_fn: Callable[[], CgroupProbe] = probe,
        run: Runner = _run_quietly,
        euid: int | None = None,
    ) -> None:
        self.layout = layout
        self.limits = limits
        self._probe = probe_fn
        self._run = run
        self._euid = os.geteuid() if euid is None else euid
        self.name = layout.default_tmux_socket()  # "vai-<hash of VAI_HOME>"
        self.plan = Plan("off", "not set up")
        self.parent: Path | None = None

    @property
    def session_bytes(self) -> int:
        return self.limits.session_memory_mb * MB

    @property
    def total_bytes(self) -> int:
        return self.limits.total_memory_mb * MB

    @property
    def mode(self) -> str:
        return self.plan.mode

    # -- choosing -----------------------------------------------------------------------------

    def choose(self) -> Plan:
        """Which mechanism works here, without changing anything (`vai doctor` uses this)."""
        wanted = self.limits.enforce
        if wanted == "off":
            return Plan("off", 'memory limits are off ([limits] enforce = "off")')
        problems: list[str] = []
        if wanted in ("auto", "cgroup"):
            plan = self._cgroup_plan(problems)
            if plan is not None:
                return plan
        if wanted in ("auto", "systemd"):
            plan = self._systemd_plan(problems)
            if plan is not None:
                return plan
        note = "no way to enforce memory limits: " + "; ".join(problems)
        return Plan("off", note, problems=problems)

    def _cgroup_plan(self, problems: list[str]) -> Plan | None:
        found = self._probe()
        v2 = found.v2_dir
        if v2 is not None and v2.is_dir():
            controllers = _read(v2 / "cgroup.controllers").split()
            if "memory" not in controllers:
                problems.append(f"cgroup v2 at {v2} has no memory controller")
            elif not os.access(v2, os.W_OK) or not os.access(v2 / "cgroup.procs", os.W_OK):
                problems.append(
                    f"cgroup v2 at {v2} is not delegated to this user (systemd Delegate=yes)"
                )
            else:
                return Plan("cgroup-v2", f"cgroup v2 under {v2}", v2)
        v1 = found.v1_memory_dir
        if v1 is not None and v1.is_dir():
            if os.access(v1, os.W_OK):
                return Plan("cgroup-v1", f"cgroup v1 memory hierarchy under {v1}", v1)
            problems.append(f"cgroup v1 memory directory {v1} is not writable")
        if v2 is None and v1 is None:
            problems.append("no cgroup file system is mounted")
        return None

    def _systemd_plan(self, problems: list[str]) -> Plan | None:
        if shutil.which("systemd-run") is None:
            problems.append("systemd-run is not installed")
            return None
        user = self._euid != 0
        argv = ["systemd-run", *(["--user"] if user else []), "--scope", "--quiet", "--collect"]
        if self._run([*argv, "-p", f"MemoryMax={self.session_bytes}", "true"]) != 0:
            who = "the user's systemd (systemctl --user)" if user else "systemd"
            problems.append(f"systemd-run --scope does not work here ({who} is not running)")
            return None
        return Plan("systemd", "systemd-run scopes", None, systemd_user=user)

    # -- acting -------------------------------------------------------------------------------

    def setup(self) -> Plan:
        """Choose and create the parent group with the total limit. Never raises."""
        plan = self.plan = self.choose()
        try:
            if plan.mode == "cgroup-v2":
                assert plan.base is not None
                self.parent = self._setup_v2(plan.base)
            elif plan.mode == "cgroup-v1":
                assert plan.base is not None
                self.parent = plan.base / self.name
                self.parent.mkdir(exist_ok=True)
                self._limit(self.parent, self.total_bytes)
            elif plan.mode == "systemd":
                self._run(
                    [
                        "systemctl", *(["--user"] if plan.systemd_user else []),
                        "set-property", "--runtime", f"{self.name}.slice",
                        f"MemoryMax={self.total_bytes}",
                    ]
                )  # fmt: skip
        except OSError as exc:
            plan = Plan("off", f"{plan.note}: cannot set up ({exc}); running without limits")
            self.parent = None
        self.plan = plan
        if plan.mode == "off":
            log.warning("memory limits not enforced: %s", plan.note)
        else:
            log.info(
                "memory limits: %d MB per session, %d MB in total, with %s",
                self.limits.session_memory_mb,
                self.limits.total_memory_mb,
                plan.note,
            )
        return plan

    def _setup_v2(self, base: Path) -> Path:
        subtree = base / "cgroup.subtree_control"
        if "memory" not in _read(subtree).split():
            try:
                _write(subtree, "+memory")
            except OSError as exc:
                if exc.errno != errno.EBUSY:
                    raise
                # v2: no processes in a cgroup that hands controllers down. Step aside.
                leaf = base / SUPERVISOR_LEAF
                leaf.mkdir(exist_ok=True)
                _write(leaf / "cgroup.procs", str(os.getpid()))
                _write(subtree, "+memory")
        parent = base / self.name
        parent.mkdir(exist_ok=True)
        self._limit(parent, self.total_bytes)
        if "memory" not in _read(parent / "cgroup.subtree_control").split():
            _write(parent / "cgroup.subtree_control", "+memory")
        return parent

    def _limit(self, group: Path, limit: int) -> None:
        if not (group / "memory.max").exists() and (group / "memory.limit_in_bytes").exists():
            _write(group / "memory.limit_in_bytes", str(limit))
            swap = group / "memory.memsw.limit_in_bytes"
            if swap.exists():
                with contextlib.suppress(OSError):  # swap accounting off: RAM still limited
                    _write(swap, str(limit))
        else:
            _write(group / "memory.max", str(limit))
            if (group / "memory.swap.max").exists():
                _write(group / "memory.swap.max", "0")

    def command_prefix(self) -> list[str]:
        """What goes before Claude's command line so it starts inside its limit."""
        if self.plan.mode in ("cgroup-v1", "cgroup-v2") and self.parent is not None:
            return ["sh", "-c", JOIN_SNIPPET, str(self.parent)]
        if self.plan.mode == "systemd":
            return [
                "systemd-run", *(["--user"] if self.plan.systemd_user else []),
                "--scope", "--quiet", "--collect", f"--slice={self.name}.slice",
                "-p", f"MemoryMax={self.session_bytes}", "-p", "MemorySwapMax=0", "--",
            ]  # fmt: skip
        return []

    def session_dir(self, session: int) -> Path | None:
        return None if self.parent is None else self.parent / f"session-{session}"

    def prepare_session(self, session: int) -> None:
        """The session's group with its limit; before its worker starts Claude."""
        group = self.session_dir(session)
        if group is None:
            return
        try:
            group.mkdir(exist_ok=True)
            self._limit(group, self.session_bytes)
        except OSError as exc:
            log.warning("session %d: cannot set its memory limit in %s: %s", session, group, exc)

    def remove_session(self, session: int) -> None:
        group = self.session_dir(session)
        if group is not None:
            try:
                group.rmdir()
            except OSError as exc:
                log.debug("session %d: %s stays: %s", session, group, exc)

    def session_usage(self, session: int) -> int | None:
        """The kernel's count of the session's memory (cache included), when limited."""
        group = self.session_dir(session)
        if group is None:
            return None
        for name in ("memory.current", "memory.usage_in_bytes"):
            text = _read(group / name)
            if text.isdigit():
                return int(text)
        return None

    def cleanup(self, wait: float = 2.0) -> None:
        """Remove the groups once every pane is gone (the supervisor's last step).

        Panes end a moment after tmux is told to stop them: wait for that, boundedly.
        """
        if self.parent is None:
            return
        deadline = time.monotonic() + wait
        groups = sorted(self.parent.glob("session-*"))
        while any(_read(g / "cgroup.procs") for g in groups) and time.monotonic() < deadline:
            time.sleep(0.02)
        for group in groups:
            try:
                group.rmdir()
            except OSError:
                continue
        try:
            self.parent.rmdir()
        except OSError as exc:
            log.debug("%s stays: %s", self.parent, exc)
