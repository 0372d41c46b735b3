"""A pass's figures through the alert thresholds, and the words posted in the channel.

A crossing posts one alert to the session's channel through the alert sink, and going
back under posts one recovery notice; the all-sessions memory total is only logged (it
belongs to no channel). The thresholds' state machines are supervisor/alerts.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from vai.common.status_view import format_bytes
from vai.supervisor.alerts import AlertEvent, AlertManager
from vai.supervisor.config import AlertsSection
from vai.supervisor.interfaces import AlertSink
from vai.supervisor.metrics_file import percent
from vai.supervisor.monitor_model import AlertInfo, Metrics, SessionMetrics

log = logging.getLogger("supervisor.monitor")


def evaluate(
    metrics: Metrics, settings: AlertsSection, alerts: AlertManager, sink: AlertSink
) -> None:
    """Observe every threshold once; announce each raise and clear."""
    if not settings.enabled:
        return
    for entry in metrics.sessions.values():
        checks: list[tuple[str, float | None, float]] = [
            ("memory", entry.memory_percent, settings.memory_percent),
            ("disk", entry.disk_percent, settings.disk_percent),
            ("response", entry.response_ms_avg, settings.response_ms),
        ]
        for metric, value, threshold in checks:
            event = alerts.observe(metric, entry.session, value, threshold)
            if event is not None:
                announce(event, entry, sink)
    total = percent(metrics.total_claude_memory_bytes, metrics.limits.total_memory_bytes)
    event = alerts.observe("total_memory", None, total, settings.memory_percent)
    if event is not None:
        verb = "is at" if event.kind == "raised" else "is back to"
        log.warning(
            "all Claude sessions together %s %.0f%% of the %s total memory limit",
            verb,
            event.value,
            format_bytes(metrics.limits.total_memory_bytes),
        )


def record_active(
    metrics: Metrics, alerts: AlertManager, clock: Callable[[], float], wall: Callable[[], float]
) -> None:
    """The alerts standing after this pass, in the figures (with wall-clock start times)."""
    metrics.alerts = [
        AlertInfo(
            metric=a.metric,
            session=a.session,
            value=round(a.value, 1),
            threshold=a.threshold,
            since=round(wall() - (clock() - a.since), 3),
        )
        for a in alerts.active()
    ]
    for key, entry in metrics.sessions.items():
        entry.alerts = [a.metric for a in metrics.alerts if str(a.session) == key]


def announce(event: AlertEvent, entry: SessionMetrics, sink: AlertSink) -> None:
    text = alert_text(event, entry)
    raised = event.kind == "raised"
    (log.warning if raised else log.info)("%s", text)
    sink.alert(entry.session, text, icon="⚠️" if raised else "✅")


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
