"""Monitoring in the supervisor (the seed design's MetricsCollector and AlertManager).

Every `[monitoring] interval` seconds: each session's state, its Claude pane's memory and
CPU (the pane's whole process tree), its attachments' disk use, its response time (prompt
accepted -> turn end, measured from the worker's reports) and its queue; the machine's
memory and CPU. The figures go to monitoring/metrics.json (atomically), to the optional
Prometheus endpoint, and through the alert thresholds: a crossing posts one alert to the
session's channel, and going back under posts one recovery notice. The same pass rotates
the log files and keeps the memory limits (supervisor.cgroup) in place for new sessions.

The supervisor's loop only takes a snapshot of its own state; reading /proc, tmux and
the disk happens in a thread, so a slow pass never holds up message routing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec
import psutil

from vai.common.atomic import write_atomic
from vai.common.status_view import format_bytes
from vai.common.tmux import tmux_run
from vai.protocol.layout import tmux_session_name
from vai.supervisor.alerts import AlertEvent, AlertManager
from vai.supervisor.cgroup import MB, MemoryLimiter
from vai.supervisor.config import Config
from vai.supervisor.log_rotation import rotate_logs
from vai.supervisor.metrics_http import MetricsServer, render_prometheus
from vai.supervisor.monitor_model import (
    AlertInfo,
    LimitsInfo,
    Metrics,
    ProcessMetrics,
    SessionMetrics,
    SystemMetrics,
)
from vai.supervisor.notify import sd_notify
from vai.supervisor.resources import TreeReading, TreeSampler, dir_size, memory_of

if TYPE_CHECKING:
    from vai.supervisor.server import Supervisor

log = logging.getLogger("supervisor.monitor")

METRICS_FILE = "metrics.json"
# Accepted prompts waiting for their turn's end; older ones are forgotten (bounded memory).
MAX_PENDING_PROMPTS = 10_000


@dataclass(frozen=True)
class _SessionSnapshot:
    session: int
    channel_id: int
    state: str
    claude_state: str
    worker_pid: int | None


@dataclass
class _Readings:
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


def _percent(part: float | None, whole: float) -> float | None:
    if part is None or whole <= 0:
        return None
    return round(100.0 * part / whole, 1)


class Monitor:
    def __init__(
        self,
        sup: Supervisor,
        clock: Callable[[], float] | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.sup = sup
        self.clock = clock or sup.clock
        self.wall = wall
        file = sup.config.file
        self.limiter = MemoryLimiter(sup.layout, file.limits)
        self.alerts = AlertManager(
            clock=self.clock,
            recovery_margin=file.alerts.recovery_margin_percent / 100,
            sustain_s=file.alerts.sustain_s,
        )
        self.pane_pids: dict[int, int] = {}
        self.latest: Metrics | None = None
        self.passes = 0
        self._sampler = TreeSampler()
        self._accepted: dict[int, tuple[int, float]] = {}
        self._responses: dict[int, deque[float]] = {}
        self._turns: dict[int, int] = {}
        self._status_line = ""
        self._http: MetricsServer | None = None
        self._me = psutil.Process()
        self._me.cpu_percent(None)

    @property
    def metrics_path(self) -> os.PathLike[str]:
        return self.sup.layout.monitoring_dir / METRICS_FILE

    # -- events from the supervisor ------------------------------------------------------------

    def note_pane(self, session: int | None, pane_pid: int | None) -> None:
        if session is not None and pane_pid:
            self.pane_pids[session] = pane_pid

    def prompt_accepted(self, session: int, message_id: int) -> None:
        if len(self._accepted) >= MAX_PENDING_PROMPTS:
            self._accepted.pop(next(iter(self._accepted)))
        self._accepted.setdefault(message_id, (session, self.clock()))

    def turn_ended(self, session: int, message_ids: list[int]) -> None:
        now = self.clock()
        window = max(1, self.sup.config.file.monitoring.response_window)
        for message_id in message_ids:
            start = self._accepted.pop(message_id, None)
            if start is None or start[0] != session:
                continue
            times = self._responses.setdefault(session, deque(maxlen=window))
            times.append((now - start[1]) * 1000.0)
            self._turns[session] = self._turns.get(session, 0) + 1

    def apply_limits(self, config: Config) -> Config:
        """Set up the memory limits; the config whose Claude command starts inside them."""
        self.limiter.setup()
        prefix = self.limiter.command_prefix()
        if not prefix:
            return config
        return msgspec.structs.replace(config, claude_command=[*prefix, *config.claude_command])

    def session_starting(self, session: int) -> None:
        self.limiter.prepare_session(session)

    def session_removed(self, session: int) -> None:
        self.pane_pids.pop(session, None)
        self._responses.pop(session, None)
        self._turns.pop(session, None)
        self.alerts.forget(session)
        self.limiter.remove_session(session)

    # -- for `vai status` ------------------------------------------------------------------------

    def session_memory(self, session: int, worker_pid: int | None) -> tuple[int | None, int | None]:
        """(Claude's pane pid, memory of the worker plus Claude's process tree), read now."""
        pane = self.pane_pids.get(session)
        if pane is None or not psutil.pid_exists(pane):
            self.pane_pids.update(list_pane_pids(self.sup.config.tmux_socket))
            pane = self.pane_pids.get(session)
        parts = [memory_of(pid) for pid in (worker_pid, pane) if pid]
        known = [p for p in parts if p is not None]
        return pane, (sum(known) if known else None)

    # -- the loop --------------------------------------------------------------------------------

    async def start(self) -> None:
        settings = self.sup.config.file.monitoring
        if settings.prometheus_port:
            server = MetricsServer(settings.prometheus_host, settings.prometheus_port, self.render)
            try:
                await server.start()
                self._http = server
            except OSError as exc:
                log.error(
                    "Prometheus endpoint %s:%d not started: %s",
                    settings.prometheus_host,
                    settings.prometheus_port,
                    exc,
                )

    async def run(self) -> None:
        await self.start()
        interval = max(0.05, self.sup.config.file.monitoring.interval)
        while True:
            try:
                await self.collect_once()
            except Exception:  # monitoring must never take the supervisor down
                log.exception("monitoring pass failed")
            await asyncio.sleep(interval)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        await asyncio.to_thread(self.limiter.cleanup)

    def render(self) -> str:
        if self.latest is None:
            return "# no figures yet\nvai_up 1\n"
        return render_prometheus(self.latest)

    async def collect_once(self) -> Metrics:
        sessions, gateway = self._snapshot()
        readings = await asyncio.to_thread(self._read, sessions, gateway[1])
        self.pane_pids.update(readings.panes)
        metrics = self._build(sessions, gateway, readings)
        self._evaluate(metrics)
        metrics.alerts = [
            AlertInfo(
                metric=a.metric,
                session=a.session,
                value=round(a.value, 1),
                threshold=a.threshold,
                since=round(self.wall() - (self.clock() - a.since), 3),
            )
            for a in self.alerts.active()
        ]
        for key, entry in metrics.sessions.items():
            entry.alerts = [a.metric for a in metrics.alerts if str(a.session) == key]
        self.latest = metrics  # before the file: who read the file may scrape next
        data = msgspec.json.format(msgspec.json.encode(metrics), indent=2) + b"\n"
        await asyncio.to_thread(self._write, data)
        self.passes += 1
        self._status(metrics)
        return metrics

    def _write(self, data: bytes) -> None:
        directory = self.sup.layout.monitoring_dir
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        write_atomic(directory / METRICS_FILE, data, mode=0o600)
        logs = self.sup.config.file.logs
        for path in rotate_logs(self.sup.layout.logs_dir, logs.max_bytes, logs.backups):
            log.info("rotated %s (over %s)", path.name, format_bytes(logs.max_bytes))

    def _snapshot(self) -> tuple[list[_SessionSnapshot], tuple[str, int | None]]:
        from vai.supervisor.process_policy import wire_state
        from vai.supervisor.server import GATEWAY

        sessions = []
        for session, channel in sorted(self.sup.sessions.items()):
            child = self.sup.children.get(f"session-{session}")
            process = child.process if child is not None else None
            sessions.append(
                _SessionSnapshot(
                    session=session,
                    channel_id=channel,
                    state=wire_state(child.policy.state) if child else "STOPPED",
                    claude_state=child.claude_state if child else "unknown",
                    worker_pid=process.pid if process is not None else None,
                )
            )
        gw = self.sup.children.get(GATEWAY)
        gateway_state = wire_state(gw.policy.state) if gw else "STOPPED"
        gateway_pid = gw.process.pid if gw is not None and gw.process is not None else None
        return sessions, (gateway_state, gateway_pid)

    def _read(self, sessions: list[_SessionSnapshot], gateway_pid: int | None) -> _Readings:
        """Everything that touches the OS; runs in a thread."""
        readings = _Readings(panes=list_pane_pids(self.sup.config.tmux_socket))
        sampler = self._sampler
        sampler.begin_pass()
        for snap in sessions:
            pane = readings.panes.get(snap.session) or self.pane_pids.get(snap.session)
            if pane is not None and (tree := sampler.tree(pane)) is not None:
                readings.claude[snap.session] = tree
            if snap.worker_pid is not None and (tree := sampler.tree(snap.worker_pid)):
                readings.workers[snap.session] = tree
            attachments = self.sup.layout.session_attachments(snap.session)
            readings.disk[snap.session] = dir_size(attachments)
            usage = self.limiter.session_usage(snap.session)
            if usage is not None:
                readings.cgroup[snap.session] = usage
        try:
            me = self._me
            with me.oneshot():
                readings.supervisor = TreeReading(
                    memory_bytes=me.memory_info().rss, cpu_percent=me.cpu_percent(None), processes=1
                )
        except psutil.Error:
            pass
        if gateway_pid is not None:
            readings.gateway = sampler.tree(gateway_pid)
        sampler.end_pass()
        readings.system = read_system()
        return readings

    def _build(
        self,
        sessions: list[_SessionSnapshot],
        gateway: tuple[str, int | None],
        readings: _Readings,
    ) -> Metrics:
        file = self.sup.config.file
        limit = file.limits.session_memory_mb * MB
        quota = file.limits.attachments_quota_mb * MB
        entries: dict[str, SessionMetrics] = {}
        for snap in sessions:
            claude = readings.claude.get(snap.session)
            worker = readings.workers.get(snap.session)
            times = self._responses.get(snap.session)
            disk = readings.disk.get(snap.session, 0)
            entries[str(snap.session)] = SessionMetrics(
                session=snap.session,
                channel_id=None if self.sup.config.encryption_key else snap.channel_id,
                state=snap.state,
                claude_state=snap.claude_state,
                worker_pid=snap.worker_pid,
                claude_pid=readings.panes.get(snap.session) or self.pane_pids.get(snap.session),
                memory_bytes=claude.memory_bytes if claude else None,
                worker_memory_bytes=worker.memory_bytes if worker else None,
                cgroup_memory_bytes=readings.cgroup.get(snap.session),
                memory_limit_bytes=limit,
                memory_percent=_percent(claude.memory_bytes if claude else None, limit),
                cpu_percent=claude.cpu_percent if claude else None,
                disk_bytes=disk,
                disk_quota_bytes=quota,
                disk_percent=_percent(disk, quota) or 0.0,
                response_ms_avg=round(sum(times) / len(times), 1) if times else None,
                response_ms_last=round(times[-1], 1) if times else None,
                turns=self._turns.get(snap.session, 0),
                queued=self.sup.open_message_count(snap.session),  # read with `turns`
            )
        now = self.wall()
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
                state=gateway[0],
                pid=gateway[1],
                memory_bytes=gw.memory_bytes if gw else None,
                cpu_percent=gw.cpu_percent if gw else None,
            ),
            limits=LimitsInfo(
                session_memory_bytes=limit,
                total_memory_bytes=file.limits.total_memory_mb * MB,
                attachments_quota_bytes=quota,
                enforcement=self.limiter.mode,
                note=self.limiter.plan.note,
            ),
            total_claude_memory_bytes=sum(t.memory_bytes for t in readings.claude.values()),
            sessions=entries,
            alerts=[],
        )

    # -- alerts ----------------------------------------------------------------------------------

    def _evaluate(self, metrics: Metrics) -> None:
        settings = self.sup.config.file.alerts
        for entry in metrics.sessions.values():
            number = entry.session
            if not settings.enabled:
                continue
            checks: list[tuple[str, float | None, float]] = [
                ("memory", entry.memory_percent, settings.memory_percent),
                ("disk", entry.disk_percent, settings.disk_percent),
                ("response", entry.response_ms_avg, settings.response_ms),
            ]
            for metric, value, threshold in checks:
                event = self.alerts.observe(metric, number, value, threshold)
                if event is not None:
                    self._announce(event, entry)
        if settings.enabled:
            total = _percent(metrics.total_claude_memory_bytes, metrics.limits.total_memory_bytes)
            event = self.alerts.observe("total_memory", None, total, settings.memory_percent)
            if event is not None:
                verb = "is at" if event.kind == "raised" else "is back to"
                log.warning(
                    "all Claude sessions together %s %.0f%% of the %s total memory limit",
                    verb,
                    event.value,
                    format_bytes(metrics.limits.total_memory_bytes),
                )

    def _announce(self, event: AlertEvent, entry: SessionMetrics) -> None:
        text = alert_text(event, entry)
        raised = event.kind == "raised"
        (log.warning if raised else log.info)("%s", text)
        self.sup._alert(entry.session, text, icon="⚠️" if raised else "✅")

    def _status(self, metrics: Metrics) -> None:
        running = sum(1 for s in metrics.sessions.values() if s.state == "RUNNING")
        line = f"{running}/{len(metrics.sessions)} sessions running"
        if metrics.alerts:
            line += f", {len(metrics.alerts)} alert(s)"
        if line != self._status_line:
            self._status_line = line
            sd_notify(f"STATUS={line}")


def alert_text(event: AlertEvent, entry: SessionMetrics) -> str:
    """The channel message for an alert or its recovery (seed: "Session N: Memory usage X%")."""
    number = entry.session
    back = event.kind == "cleared"
    if event.metric == "memory":
        figure = f"{event.value:.0f}% ({format_bytes(entry.memory_bytes)} of its"
        figure += f" {format_bytes(entry.memory_limit_bytes)} limit)"
        return f"Session {number}: memory usage {'back to ' if back else ''}{figure}"
    if event.metric == "disk":
        figure = f"{event.value:.0f}% of the {format_bytes(entry.disk_quota_bytes)} quota"
        figure += f" ({format_bytes(entry.disk_bytes)})"
        return f"Session {number}: attachments {'back to ' if back else 'use '}{figure}"
    if event.metric == "response":
        figure = f"{event.value:.0f} ms (threshold {event.threshold:.0f} ms)"
        return f"Session {number}: average response time {'back to ' if back else ''}{figure}"
    return f"Session {number}: {event.metric} {event.value:.0f} (threshold {event.threshold:.0f})"
