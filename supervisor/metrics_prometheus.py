"""The optional Prometheus endpoint, through the ecosystem's library (prometheus_client).

Off by default (`[monitoring] prometheus_port = 0`); on, prometheus_client's own HTTP
server answers `/metrics` on 127.0.0.1 (or `prometheus_host`) from a thread, so a scrape
never waits on the supervisor's loop. A custom collector turns the monitor's latest pass
(the figures of metrics.json) into metric families at each scrape, so every sample sits
under its family's HELP and TYPE whatever the number of sessions.

Labels stay few and bounded: `session` (its number), `process`, `metric`, and for states
one series per possible state (1 for the current one, 0 for the others). The channel id
is a label only on `vai_session_info`, and never with ENCRYPTION_KEY (ids are private).
Times are in seconds and sizes in bytes, as Prometheus names them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import get_args
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from vai.protocol.messages import ClaudeState, ProcessState
from vai.supervisor.metrics_usage import usage_families
from vai.supervisor.monitor_model import Metrics

log = logging.getLogger("supervisor.metrics")

PROCESS_STATES: tuple[str, ...] = get_args(ProcessState)
CLAUDE_STATES: tuple[str, ...] = get_args(ClaudeState)


def _gauge(name: str, documentation: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=labels)


class SnapshotCollector(Collector):
    """Yields the figures of the monitor's latest pass as metric families."""

    def __init__(self, latest: Callable[[], Metrics | None], show_channels: bool) -> None:
        self.latest = latest
        self.show_channels = show_channels

    def collect(self) -> Iterator[Metric]:
        up = _gauge("vai_up", "1 while the supervisor runs")
        up.add_metric([], 1)
        yield up
        metrics = self.latest()
        if metrics is not None:
            yield from self._bridge(metrics)
            yield from self._sessions(metrics)

    def _bridge(self, m: Metrics) -> Iterator[Metric]:
        figures = [
            ("vai_metrics_timestamp_seconds", "when these figures were read", m.unix_time),
            ("vai_system_memory_bytes", "memory of the machine", m.system.memory_total_bytes),
            (
                "vai_system_memory_available_bytes",
                "memory available",
                m.system.memory_available_bytes,
            ),
            ("vai_system_cpu_percent", "CPU use of the machine (all cores)", m.system.cpu_percent),
            (
                "vai_claude_memory_bytes",
                "resident memory of every Claude pane together",
                m.total_claude_memory_bytes,
            ),
            (
                "vai_memory_limit_bytes",
                "memory limit of all sessions together",
                m.limits.total_memory_bytes,
            ),
        ]
        for name, documentation, value in figures:
            family = _gauge(name, documentation)
            family.add_metric([], value)
            yield family
        processes = _gauge(
            "vai_process_memory_bytes", "resident memory of the bridge's own processes", ["process"]
        )
        for process in (m.supervisor, m.gateway):
            if process.memory_bytes is not None:
                processes.add_metric([process.name], process.memory_bytes)
        yield processes
        alerts = _gauge(
            "vai_alert_active", "1 for each threshold currently crossed", ["session", "metric"]
        )
        for alert in m.alerts:
            where = "" if alert.session is None else str(alert.session)
            alerts.add_metric([where, alert.metric], 1)
        yield alerts

    def _sessions(self, m: Metrics) -> Iterator[Metric]:
        sessions = sorted(m.sessions.values(), key=lambda s: s.session)
        info_labels = ["session", "channel"] if self.show_channels else ["session"]
        info = _gauge("vai_session_info", "1 per session; its channel id when not private",
                      info_labels)  # fmt: skip
        up = _gauge("vai_session_up", "1 when the session's worker is RUNNING", ["session"])
        state = _gauge(
            "vai_session_state", "1 for the worker's current state", ["session", "state"]
        )
        claude = _gauge("vai_session_claude_state", "1 for Claude's current state",
                        ["session", "claude_state"])  # fmt: skip
        turns = CounterMetricFamily(
            "vai_session_turns", "turns measured since the supervisor started", labels=["session"]
        )
        figures: list[tuple[GaugeMetricFamily, Callable[..., float | None]]] = [
            (_gauge("vai_session_memory_bytes",
                    "resident memory of the Claude pane's process tree", ["session"]),
             lambda s: s.memory_bytes),
            (_gauge("vai_session_worker_memory_bytes", "resident memory of the session's worker",
                    ["session"]), lambda s: s.worker_memory_bytes),
            (_gauge("vai_session_memory_limit_bytes", "the session's memory limit", ["session"]),
             lambda s: s.memory_limit_bytes),
            (_gauge("vai_session_cpu_percent", "CPU use of the Claude pane's process tree",
                    ["session"]), lambda s: s.cpu_percent),
            (_gauge("vai_session_disk_bytes", "bytes in the session's attachments directory",
                    ["session"]), lambda s: s.disk_bytes),
            (_gauge("vai_session_disk_quota_bytes", "the session's attachments quota",
                    ["session"]), lambda s: s.disk_quota_bytes),
            (_gauge("vai_session_response_seconds",
                    "mean time from prompt accepted to turn end (recent turns)", ["session"]),
             lambda s: None if s.response_ms_avg is None else s.response_ms_avg / 1000),
            (_gauge("vai_session_queued", "messages waiting for Claude", ["session"]),
             lambda s: s.queued),
        ]  # fmt: skip
        for s in sessions:
            number = str(s.session)
            channel = "" if s.channel_id is None else str(s.channel_id)  # a snowflake: text
            info.add_metric([number, channel] if self.show_channels else [number], 1)
            up.add_metric([number], 1 if s.state == "RUNNING" else 0)
            for name in PROCESS_STATES:
                state.add_metric([number, name], 1 if s.state == name else 0)
            for name in CLAUDE_STATES:
                claude.add_metric([number, name], 1 if s.claude_state == name else 0)
            turns.add_metric([number], s.turns)
            for family, read in figures:
                value = read(s)
                if value is not None:  # a figure that could not be read has no sample
                    family.add_metric([number], value)
        yield from (info, up, state, claude, turns)
        yield from (family for family, _ in figures)
        yield from usage_families(sessions)


class PrometheusEndpoint:
    """prometheus_client's HTTP server for one registry holding our collector."""

    def __init__(self, host: str, port: int, collector: SnapshotCollector) -> None:
        self.host, self.port = host, port
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(collector)
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """OSError when the port cannot be bound."""
        self._server, self._thread = start_http_server(
            self.port, addr=self.host, registry=self.registry
        )
        self.port = int(self._server.server_address[1])
        log.info("Prometheus metrics on http://%s:%d/metrics", self.host, self.port)

    def close(self) -> None:
        """Blocking (the server's thread finishes its request): call from a thread."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
