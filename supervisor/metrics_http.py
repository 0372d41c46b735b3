"""The optional Prometheus endpoint: the figures of metrics.json in the text format.

Off by default (`[monitoring] prometheus_port = 0`); it listens on localhost unless told
otherwise, answers `GET /metrics` and nothing else, and never blocks the supervisor: each
request is one small read with a timeout and one write of the latest rendering.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from vai.supervisor.monitor_model import Metrics

log = logging.getLogger("supervisor.metrics")

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_REQUEST = 8192


def _labels(**labels: object) -> str:
    if not labels:
        return ""
    parts = []
    for key, value in labels.items():
        text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        parts.append(f'{key}="{text}"')
    return "{" + ",".join(parts) + "}"


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self._declared: set[str] = set()

    def sample(
        self, name: str, help_text: str, value: float | None, kind: str = "gauge", **labels: object
    ) -> None:
        if name not in self._declared:
            self._declared.add(name)
            self.lines.append(f"# HELP {name} {help_text}")
            self.lines.append(f"# TYPE {name} {kind}")
        if value is not None:
            number = int(value) if float(value).is_integer() else round(float(value), 3)
            self.lines.append(f"{name}{_labels(**labels)} {number}")


def render_prometheus(metrics: Metrics) -> str:
    w = _Writer()
    w.sample("vai_up", "1 while the supervisor runs", 1)
    w.sample("vai_metrics_timestamp_seconds", "when these figures were read", metrics.unix_time)
    system = metrics.system
    w.sample("vai_system_memory_total_bytes", "memory of the machine", system.memory_total_bytes)
    w.sample("vai_system_memory_available_bytes", "memory available", system.memory_available_bytes)
    w.sample("vai_system_cpu_percent", "CPU use of the machine (all cores)", system.cpu_percent)
    for process in (metrics.supervisor, metrics.gateway):
        w.sample(
            "vai_process_memory_bytes",
            "resident memory of the bridge's own processes",
            process.memory_bytes,
            process=process.name,
        )
    w.sample(
        "vai_claude_memory_bytes_total",
        "resident memory of every Claude pane together",
        metrics.total_claude_memory_bytes,
    )
    w.sample("vai_memory_limit_bytes_total", "memory limit of all sessions together",
             metrics.limits.total_memory_bytes)  # fmt: skip
    for key, s in sorted(metrics.sessions.items(), key=lambda item: int(item[0])):
        label = {"session": key}
        w.sample("vai_session_up", "1 when the session's worker is RUNNING",
                 1 if s.state == "RUNNING" else 0, **label)  # fmt: skip
        w.sample("vai_session_info", "the session's states as labels", 1,
                 **label, state=s.state, claude_state=s.claude_state)  # fmt: skip
        w.sample("vai_session_memory_bytes", "resident memory of the Claude pane's process tree",
                 s.memory_bytes, **label)  # fmt: skip
        w.sample("vai_session_worker_memory_bytes", "resident memory of the session's worker",
                 s.worker_memory_bytes, **label)  # fmt: skip
        w.sample("vai_session_memory_limit_bytes", "the session's memory limit",
                 s.memory_limit_bytes, **label)  # fmt: skip
        w.sample("vai_session_cpu_percent", "CPU use of the Claude pane's process tree",
                 s.cpu_percent, **label)  # fmt: skip
        w.sample("vai_session_disk_bytes", "bytes in the session's attachments directory",
                 s.disk_bytes, **label)  # fmt: skip
        w.sample("vai_session_disk_quota_bytes", "the session's attachments quota",
                 s.disk_quota_bytes, **label)  # fmt: skip
        w.sample("vai_session_response_ms", "mean time from prompt accepted to turn end",
                 s.response_ms_avg, **label)  # fmt: skip
        w.sample("vai_session_turns_total", "turns measured since the supervisor started",
                 s.turns, "counter", **label)  # fmt: skip
        w.sample("vai_session_queued", "messages waiting for Claude", s.queued, **label)
    for alert in metrics.alerts:
        w.sample("vai_alert_active", "1 for each threshold currently crossed", 1,
                 session="" if alert.session is None else alert.session,
                 metric=alert.metric)  # fmt: skip
    return "\n".join(w.lines) + "\n"


class MetricsServer:
    """`GET /metrics` on host:port, answered from `render()`."""

    def __init__(self, host: str, port: int, render: Callable[[], str]) -> None:
        self.host, self.port = host, port
        self._render = render
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        sockets = self._server.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])
        log.info("Prometheus metrics on http://%s:%d/metrics", self.host, self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2.0)
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            method, path, *_ = [*head.split(b"\r\n", 1)[0].decode("latin-1").split(), "", ""]
            if method not in ("GET", "HEAD"):
                status, body, ctype = "405 Method Not Allowed", "GET only\n", "text/plain"
            elif path.split("?", 1)[0] != "/metrics":
                status, body, ctype = "404 Not Found", "see /metrics\n", "text/plain"
            else:
                status, body, ctype = "200 OK", self._render(), CONTENT_TYPE
            data = body.encode()
            header = (
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n"
                f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n"
            ).encode()
            writer.write(header + (b"" if method == "HEAD" else data))
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
