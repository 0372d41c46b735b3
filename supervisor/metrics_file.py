"""monitoring/metrics.json: one pass's readings turned into figures, written atomically.

The same pass rotates the log files, so a slow disk costs the monitor's thread, never the
supervisor's loop.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import msgspec

from vai.common.atomic import write_atomic
from vai.common.status_view import format_bytes
from vai.protocol.usage import UsageTotals
from vai.supervisor.cgroup import MB
from vai.supervisor.config import FileConfig
from vai.supervisor.log_rotation import rotate_logs
from vai.supervisor.monitor_model import (
    LimitsInfo,
    Metrics,
    ProcessMetrics,
    SessionMetrics,
)
from vai.supervisor.monitor_readings import Readings, Snapshot, read_system
from vai.supervisor.response_times import ResponseTimes

log = logging.getLogger("supervisor.monitor")

METRICS_FILE = "metrics.json"


def percent(part: float | None, whole: float) -> float | None:
    if part is None or whole <= 0:
        return None
    return round(100.0 * part / whole, 1)


def build_metrics(
    file: FileConfig,
    snap: Snapshot,
    readings: Readings,
    *,
    known_panes: dict[int, int],
    responses: ResponseTimes,
    queued: Callable[[int], int],
    enforcement: str,
    note: str,
    now: float,
    hide_channels: bool = False,
    usage: Mapping[int, UsageTotals] | None = None,
) -> Metrics:
    limit = file.limits.session_memory_mb * MB
    quota = file.limits.attachments_quota_mb * MB
    entries: dict[str, SessionMetrics] = {}
    for entry in snap.sessions:
        number = entry.session
        claude = readings.claude.get(number)
        worker = readings.workers.get(number)
        disk = readings.disk.get(number, 0)
        average, last = responses.figures(number)
        entries[str(number)] = SessionMetrics(
            session=number,
            channel_id=None if hide_channels else entry.channel_id,
            state=entry.state,
            claude_state=entry.claude_state,
            worker_pid=entry.worker_pid,
            claude_pid=readings.panes.get(number) or known_panes.get(number),
            memory_bytes=claude.memory_bytes if claude else None,
            worker_memory_bytes=worker.memory_bytes if worker else None,
            cgroup_memory_bytes=readings.cgroup.get(number),
            memory_limit_bytes=limit,
            memory_percent=percent(claude.memory_bytes if claude else None, limit),
            cpu_percent=claude.cpu_percent if claude else None,
            disk_bytes=disk,
            disk_quota_bytes=quota,
            disk_percent=percent(disk, quota) or 0.0,
            response_ms_avg=average,
            response_ms_last=last,
            turns=responses.turns(number),
            queued=queued(number),  # read with `turns`
            usage=(usage or {}).get(number),
        )
    system = readings.system or read_system()
    sup = readings.supervisor
    gw = readings.gateway
    return Metrics(
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
        unix_time=round(now, 3),
        interval_s=file.monitoring.interval,
        system=system,
        supervisor=ProcessMetrics(
            name="supervisor",
            state="RUNNING",
            pid=os.getpid(),
            memory_bytes=sup.memory_bytes if sup else None,
            cpu_percent=sup.cpu_percent if sup else None,
        ),
        gateway=ProcessMetrics(
            name="gateway",
            state=snap.gateway.state,
            pid=snap.gateway.pid,
            memory_bytes=gw.memory_bytes if gw else None,
            cpu_percent=gw.cpu_percent if gw else None,
        ),
        limits=LimitsInfo(
            session_memory_bytes=limit,
            total_memory_bytes=file.limits.total_memory_mb * MB,
            attachments_quota_bytes=quota,
            enforcement=enforcement,
            note=note,
        ),
        total_claude_memory_bytes=sum(t.memory_bytes for t in readings.claude.values()),
        sessions=entries,
        alerts=[],
    )


def encode_metrics(metrics: Metrics) -> bytes:
    return msgspec.json.format(msgspec.json.encode(metrics), indent=2) + b"\n"


def write_metrics(monitoring_dir: Path, logs_dir: Path, file: FileConfig, data: bytes) -> None:
    """The file, then log rotation; runs in a thread."""
    monitoring_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(monitoring_dir / METRICS_FILE, data, mode=0o600)
    logs = file.logs
    for path in rotate_logs(logs_dir, logs.max_bytes, logs.backups):
        log.info("rotated %s (over %s)", path.name, format_bytes(logs.max_bytes))
