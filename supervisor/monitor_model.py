"""The shape of monitoring/metrics.json (and of the Prometheus figures): plain Structs.

Sizes are bytes, times milliseconds or seconds as named; a figure that could not be read
(the process is between restarts) is null rather than a guess.
"""

from __future__ import annotations

import msgspec

from vai.protocol.usage import UsageTotals


class SessionMetrics(msgspec.Struct, kw_only=True):
    session: int
    channel_id: int | None  # None with ENCRYPTION_KEY: ids are not written in plain
    state: str
    claude_state: str
    worker_pid: int | None = None
    claude_pid: int | None = None
    memory_bytes: int | None = None  # the Claude pane's process tree (RSS)
    worker_memory_bytes: int | None = None
    cgroup_memory_bytes: int | None = None  # the kernel's count, when a cgroup limits it
    memory_limit_bytes: int
    memory_percent: float | None = None  # memory_bytes of memory_limit_bytes
    cpu_percent: float | None = None  # of one core, summed over the tree
    disk_bytes: int = 0
    disk_quota_bytes: int
    disk_percent: float = 0.0
    response_ms_avg: float | None = None  # mean of the last `response_window` turns
    response_ms_last: float | None = None
    turns: int = 0
    queued: int = 0
    alerts: list[str] = msgspec.field(default_factory=list)
    usage: UsageTotals | None = None  # tokens (cost where the CLI reports it) since added


class SystemMetrics(msgspec.Struct, kw_only=True):
    memory_total_bytes: int
    memory_available_bytes: int
    memory_percent: float
    cpu_percent: float
    cpu_count: int
    load_1m: float


class ProcessMetrics(msgspec.Struct, kw_only=True):
    name: str
    state: str
    pid: int | None = None
    memory_bytes: int | None = None
    cpu_percent: float | None = None


class LimitsInfo(msgspec.Struct, kw_only=True):
    session_memory_bytes: int
    total_memory_bytes: int
    attachments_quota_bytes: int
    enforcement: str  # "cgroup-v2", "cgroup-v1", "systemd" or "off"
    note: str = ""


class AlertInfo(msgspec.Struct, kw_only=True):
    metric: str
    session: int | None
    value: float
    threshold: float
    since: float  # unix time


class Metrics(msgspec.Struct, kw_only=True):
    timestamp: str  # ISO 8601, UTC
    unix_time: float
    interval_s: float
    system: SystemMetrics
    supervisor: ProcessMetrics
    gateway: ProcessMetrics
    limits: LimitsInfo
    total_claude_memory_bytes: int
    sessions: dict[str, SessionMetrics]
    alerts: list[AlertInfo]
