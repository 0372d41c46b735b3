"""What one monitoring pass reads from the machine: panes, process trees, disks, memory.

The supervisor's loop only takes a snapshot of its own state (`snapshot`); everything that
touches /proc, tmux or the disk (`Reader.read`) runs in a thread, so a slow pass never
holds up message routing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import psutil

from vai.common.tmux import tmux_run
from vai.protocol.layout import Layout, tmux_session_name
from vai.supervisor.cgroup import MemoryLimiter
from vai.supervisor.interfaces import ChildReading, StatusReadings
from vai.supervisor.monitor_model import SystemMetrics
from vai.supervisor.resources import TreeReading, TreeSampler, dir_size


@dataclass(frozen=True)
class SessionSnapshot:
    session: int
    channel_id: int
    state: str
    claude_state: str
    worker_pid: int | None


@dataclass(frozen=True)
class Snapshot:
    sessions: list[SessionSnapshot]
    gateway: ChildReading


def snapshot(readings: StatusReadings) -> Snapshot:
    """The supervisor's own state, taken on its loop (cheap, no I/O)."""
    sessions = []
    for session, channel in sorted(readings.sessions().items()):
        child = readings.session_reading(session)
        sessions.append(
            SessionSnapshot(
                session=session,
                channel_id=channel,
                state=child.state,
                claude_state=child.claude_state,
                worker_pid=child.pid,
            )
        )
    return Snapshot(sessions, readings.gateway_reading())


@dataclass
class Readings:
    panes: dict[int, int] = field(default_factory=dict)
    claude: dict[int, TreeReading] = field(default_factory=dict)
    workers: dict[int, TreeReading] = field(default_factory=dict)
    disk: dict[int, int] = field(default_factory=dict)
    cgroup: dict[int, int] = field(default_factory=dict)
    supervisor: TreeReading | None = None
    gateway: TreeReading | None = None
    system: SystemMetrics | None = None


def list_pane_pids(tmux_socket: str) -> dict[int, int]:
    """Session number -> the pid in its Claude pane, for every live claude-session-N pane."""
    done = tmux_run(
        tmux_socket, "list-panes", "-a", "-F", "#{session_name} #{pane_pid} #{pane_dead}"
    )
    panes: dict[int, int] = {}
    if done.returncode != 0:
        return panes
    prefix = tmux_session_name(0)[:-1]
    for line in done.stdout.splitlines():
        name, _, rest = line.partition(" ")
        pid, _, dead = rest.partition(" ")
        number = name.removeprefix(prefix)
        if name.startswith(prefix) and number.isdigit() and pid.isdigit() and dead != "1":
            panes.setdefault(int(number), int(pid))
    return panes


def read_system() -> SystemMetrics:
    memory = psutil.virtual_memory()
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = 0.0
    return SystemMetrics(
        memory_total_bytes=memory.total,
        memory_available_bytes=memory.available,
        memory_percent=memory.percent,
        cpu_percent=psutil.cpu_percent(None),
        cpu_count=psutil.cpu_count() or 1,
        load_1m=round(load, 2),
    )


class Reader:
    """Reads process trees pass after pass (CPU is measured between two passes)."""

    def __init__(self, layout: Layout, tmux_socket: str, limiter: MemoryLimiter) -> None:
        self.layout = layout
        self.tmux_socket = tmux_socket
        self.limiter = limiter
        self._sampler = TreeSampler()
        self._me = psutil.Process()
        self._me.cpu_percent(None)

    def read(self, snap: Snapshot, known_panes: dict[int, int]) -> Readings:
        """Everything that touches the OS; runs in a thread."""
        readings = Readings(panes=list_pane_pids(self.tmux_socket))
        sampler = self._sampler
        sampler.begin_pass()
        for entry in snap.sessions:
            pane = readings.panes.get(entry.session) or known_panes.get(entry.session)
            if pane is not None and (tree := sampler.tree(pane)) is not None:
                readings.claude[entry.session] = tree
            if entry.worker_pid is not None and (tree := sampler.tree(entry.worker_pid)):
                readings.workers[entry.session] = tree
            readings.disk[entry.session] = dir_size(self.layout.session_attachments(entry.session))
            usage = self.limiter.session_usage(entry.session)
            if usage is not None:
                readings.cgroup[entry.session] = usage
        try:
            me = self._me
            with me.oneshot():
                readings.supervisor = TreeReading(
                    memory_bytes=me.memory_info().rss, cpu_percent=me.cpu_percent(None), processes=1
                )
        except psutil.Error:
            pass
        if snap.gateway.pid is not None:
            readings.gateway = sampler.tree(snap.gateway.pid)
        sampler.end_pass()
        readings.system = read_system()
        return readings
