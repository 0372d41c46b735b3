"""Monitoring in the supervisor (the seed design's MetricsCollector and AlertManager).

Every `[monitoring] interval` seconds: each session's state, its Claude pane's memory and
CPU (the pane's whole process tree), its attachments' disk use, its response time (prompt
accepted -> turn end, measured from the worker's reports) and its queue; the machine's
memory and CPU. The figures go to monitoring/metrics.json (atomically), to the optional
Prometheus endpoint, and through the alert thresholds (supervisor/monitor_alerts.py). The
same pass rotates the log files and keeps the memory limits (supervisor.cgroup) in place
for new sessions.

The monitor sees the supervisor only through narrow interfaces: its readings, and a sink
for alerts. Reading the machine happens in a thread (supervisor/monitor_readings.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable

import msgspec
import psutil

from vai.supervisor.alerts import AlertManager
from vai.supervisor.cgroup import MemoryLimiter
from vai.supervisor.config import Config
from vai.supervisor.interfaces import AlertSink, StatusReadings
from vai.supervisor.metrics_file import METRICS_FILE, build_metrics, encode_metrics, write_metrics
from vai.supervisor.metrics_prometheus import PrometheusEndpoint, SnapshotCollector
from vai.supervisor.monitor_alerts import evaluate, record_active
from vai.supervisor.monitor_model import Metrics
from vai.supervisor.monitor_readings import Reader, list_pane_pids, snapshot
from vai.supervisor.resources import memory_of
from vai.supervisor.response_times import ResponseTimes

log = logging.getLogger("supervisor.monitor")


class Monitor:
    def __init__(
        self,
        config: Config,
        readings: StatusReadings,
        alerts: AlertSink,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.readings = readings
        self.sink = alerts
        self.clock = clock
        self.wall = wall
        file = config.file
        self.limiter = MemoryLimiter(config.layout, file.limits)
        self.alerts = AlertManager(
            clock=clock,
            recovery_margin=file.alerts.recovery_margin_percent / 100,
            sustain_s=file.alerts.sustain_s,
        )
        self.responses = ResponseTimes(clock, file.monitoring.response_window)
        self.reader = Reader(config.layout, config.tmux_socket, self.limiter)
        self.pane_pids: dict[int, int] = {}
        self.latest: Metrics | None = None
        self.passes = 0
        self._http: PrometheusEndpoint | None = None

    @property
    def metrics_path(self) -> os.PathLike[str]:
        return self.config.layout.monitoring_dir / METRICS_FILE

    # -- what routing observes (interfaces.TurnObserver) ---------------------------------------

    def pane_seen(self, session: int, pane_pid: int | None) -> None:
        if pane_pid:
            self.pane_pids[session] = pane_pid

    def prompt_accepted(self, session: int, message_id: int) -> None:
        self.responses.prompt_accepted(session, message_id)

    def turn_ended(self, session: int, message_ids: list[int]) -> None:
        self.responses.turn_ended(session, message_ids)

    # -- session lifecycle ---------------------------------------------------------------------

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
        self.responses.forget(session)
        self.alerts.forget(session)
        self.limiter.remove_session(session)

    # -- for `vai status` (interfaces.MemoryReadings) ------------------------------------------

    def session_memory(self, session: int, worker_pid: int | None) -> tuple[int | None, int | None]:
        """(Claude's pane pid, memory of the worker plus Claude's process tree), read now."""
        pane = self.pane_pids.get(session)
        if pane is None or not psutil.pid_exists(pane):
            self.pane_pids.update(list_pane_pids(self.config.tmux_socket))
            pane = self.pane_pids.get(session)
        parts = [memory_of(pid) for pid in (worker_pid, pane) if pid]
        known = [p for p in parts if p is not None]
        return pane, (sum(known) if known else None)

    # -- the loop --------------------------------------------------------------------------------

    async def start(self) -> None:
        settings = self.config.file.monitoring
        if not settings.prometheus_port:
            return
        collector = SnapshotCollector(
            lambda: self.latest, show_channels=not self.config.encryption_key
        )
        endpoint = PrometheusEndpoint(settings.prometheus_host, settings.prometheus_port, collector)
        try:
            await asyncio.to_thread(endpoint.start)
            self._http = endpoint
        except OSError as exc:
            log.error(
                "Prometheus endpoint %s:%d not started: %s",
                settings.prometheus_host,
                settings.prometheus_port,
                exc,
            )

    async def run(self) -> None:
        await self.start()
        while True:
            try:
                await self.collect_once()
            except Exception:  # monitoring must never take the supervisor down
                log.exception("monitoring pass failed")
            await asyncio.sleep(max(0.05, self.config.file.monitoring.interval))

    async def close(self) -> None:
        await self._stop_endpoint()
        await asyncio.to_thread(self.limiter.cleanup)

    async def _stop_endpoint(self) -> None:
        if self._http is not None:
            await asyncio.to_thread(self._http.close)
            self._http = None

    async def reconfigure(self, config: Config) -> None:
        """vai.toml reloaded: thresholds, the interval and the endpoint follow it."""
        old = self.config.file.monitoring
        self.config = config
        file = config.file
        self.alerts.recovery_margin = file.alerts.recovery_margin_percent / 100
        self.alerts.sustain_s = file.alerts.sustain_s
        new = file.monitoring
        if (old.prometheus_port, old.prometheus_host) != (new.prometheus_port, new.prometheus_host):
            await self._stop_endpoint()
            await self.start()

    async def collect_once(self) -> Metrics:
        file = self.config.file
        snap = snapshot(self.readings)
        readings = await asyncio.to_thread(self.reader.read, snap, dict(self.pane_pids))
        self.pane_pids.update(readings.panes)
        metrics = build_metrics(
            file,
            snap,
            readings,
            known_panes=self.pane_pids,
            responses=self.responses,
            queued=self.readings.queued,
            enforcement=self.limiter.mode,
            note=self.limiter.plan.note,
            now=self.wall(),
            # With ENCRYPTION_KEY, channel ids are not written in plain text.
            hide_channels=bool(self.config.encryption_key),
            usage=self.readings.usage_totals(),
        )
        evaluate(metrics, file.alerts, self.alerts, self.sink)
        record_active(metrics, self.alerts, self.clock, self.wall)
        self.latest = metrics  # before the file: who read the file may scrape next
        layout = self.config.layout
        data = encode_metrics(metrics)
        await asyncio.to_thread(write_metrics, layout.monitoring_dir, layout.logs_dir, file, data)
        self.passes += 1
        return metrics
