"""Monitoring: alert thresholds (pure), metrics.json, Prometheus, log rotation, cgroups.

The whole-stack test grows a stand-in Claude's pane past its memory threshold (a ballast
child, tests/support/ballast_claude.py) and waits for the alert in its channel, then shrinks it
and waits for the recovery notice.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import msgspec
import psutil
import pytest

from tests.support.clock import FakeClock
from tests.support.harness import REPO, standin_command, wait_until
from tests.support.stack import running_stack
from tests.support.tmux import TmuxServer
from vai.protocol.layout import Layout
from vai.supervisor.alerts import AlertManager
from vai.supervisor.cgroup import CgroupProbe, MemoryLimiter, probe
from vai.supervisor.config import LimitsSection
from vai.supervisor.log_rotation import rotate_if_needed, rotate_logs
from vai.supervisor.metrics_prometheus import PrometheusEndpoint, SnapshotCollector
from vai.supervisor.monitor_model import (
    AlertInfo,
    LimitsInfo,
    Metrics,
    ProcessMetrics,
    SessionMetrics,
    SystemMetrics,
)
from vai.supervisor.resources import TreeSampler

# -- AlertManager ------------------------------------------------------------------------------


def test_a_tree_reading_counts_every_descendant_with_one_scan_or_without() -> None:
    # sh -> (sh -> sleep, sleep): the grandchild counts too.
    script = "sleep 60 & (sleep 60 & wait) & echo ready; wait"
    root = subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE)
    try:
        assert root.stdout is not None and root.stdout.readline() == b"ready\n"

        def count() -> int:
            sampler.begin_pass()
            reading = sampler.tree(root.pid)
            sampler.end_pass()
            return reading.processes if reading is not None else 0

        sampler = TreeSampler()
        wait_until(lambda: count() == 4, 10, "sh, its subshell and two sleeps")
        reading = sampler.tree(root.pid)  # no pass begun: psutil's own scan
        assert reading is not None and reading.processes == 4 and reading.memory_bytes > 0
        assert sampler.tree(2**22 + 7) is None  # no such process
    finally:
        for child in psutil.Process(root.pid).children(recursive=True):
            child.kill()
        root.kill()
        root.wait()


def test_an_alert_is_raised_once_per_crossing_and_cleared_once() -> None:
    clock = FakeClock(100.0)
    alerts = AlertManager(clock=clock, recovery_margin=0.05)
    assert alerts.observe("memory", 1, 50.0, 80.0) is None
    raised = alerts.observe("memory", 1, 85.0, 80.0)
    assert raised is not None
    assert (raised.kind, raised.session, raised.value, raised.threshold) == ("raised", 1, 85, 80)
    clock.now += 5
    assert alerts.observe("memory", 1, 95.0, 80.0) is None  # still over: nothing more
    assert alerts.observe("memory", 1, 79.0, 80.0) is None  # inside the margin: not yet
    assert [a.metric for a in alerts.active()] == ["memory"]
    cleared = alerts.observe("memory", 1, 70.0, 80.0)
    assert cleared is not None and cleared.kind == "cleared" and cleared.at == 105.0
    assert alerts.observe("memory", 1, 70.0, 80.0) is None
    assert alerts.active() == []
    again = alerts.observe("memory", 1, 81.0, 80.0)  # a new crossing, a new alert
    assert again is not None and again.kind == "raised"


def test_alerts_are_per_metric_and_session_and_ignore_missing_readings() -> None:
    alerts = AlertManager(clock=FakeClock(100.0))
    assert alerts.observe("memory", 1, 90.0, 80.0) is not None
    assert alerts.observe("memory", 2, 90.0, 80.0) is not None
    assert alerts.observe("disk", 1, 95.0, 90.0) is not None
    assert alerts.observe("memory", 1, None, 80.0) is None  # between restarts: no change
    assert alerts.is_active("memory", 1)
    assert alerts.observe("response", 1, 5000.0, 0.0) is None  # threshold 0: off
    alerts.forget(1)
    assert [(a.metric, a.session) for a in alerts.active()] == [("memory", 2)]


def test_sustain_waits_for_the_figure_to_stay_over() -> None:
    clock = FakeClock(100.0)
    alerts = AlertManager(clock=clock, sustain_s=10.0)
    assert alerts.observe("memory", 1, 90.0, 80.0) is None
    clock.now += 9.9
    assert alerts.observe("memory", 1, 90.0, 80.0) is None
    clock.now += 0.1
    assert alerts.observe("memory", 1, 90.0, 80.0) is not None
    # A dip under the threshold restarts the wait.
    alerts2 = AlertManager(clock=clock, sustain_s=10.0)
    alerts2.observe("disk", 1, 95.0, 90.0)
    clock.now += 6
    alerts2.observe("disk", 1, 10.0, 90.0)
    clock.now += 6
    assert alerts2.observe("disk", 1, 95.0, 90.0) is None
    with pytest.raises(ValueError):
        AlertManager(clock=clock, recovery_margin=1.0)


# -- Prometheus rendering ------------------------------------------------------------------------


def sample_metrics() -> Metrics:
    session = SessionMetrics(
        session=1,
        channel_id=42,
        state="RUNNING",
        claude_state="idle",
        memory_bytes=1000,
        memory_limit_bytes=4000,
        memory_percent=25.0,
        disk_quota_bytes=100,
        response_ms_avg=12.5,
        turns=3,
        queued=2,
    )
    return Metrics(
        timestamp="2026-01-01T00:00:00Z",
        unix_time=1.0,
        interval_s=5.0,
        system=SystemMetrics(
            memory_total_bytes=8,
            memory_available_bytes=4,
            memory_percent=50.0,
            cpu_percent=3.0,
            cpu_count=2,
            load_1m=0.1,
        ),
        supervisor=ProcessMetrics(name="supervisor", state="RUNNING", pid=1, memory_bytes=5),
        gateway=ProcessMetrics(name="gateway", state="RUNNING", pid=2, memory_bytes=6),
        limits=LimitsInfo(
            session_memory_bytes=4000,
            total_memory_bytes=8000,
            attachments_quota_bytes=100,
            enforcement="off",
        ),
        total_claude_memory_bytes=1000,
        sessions={"1": session},
        alerts=[AlertInfo(metric="memory", session=1, value=90, threshold=80, since=1.0)],
    )


def scrape_families(text: str) -> dict[str, Any]:
    """The exposition parsed by prometheus_client's own parser: name -> family."""
    from prometheus_client.parser import text_string_to_metric_families

    families = list(text_string_to_metric_families(text))
    names = [f.name for f in families]
    assert len(names) == len(set(names)), f"a family appears twice: {names}"
    # Every sample belongs to a typed family: none read as "untyped" (samples of one
    # session sitting apart from their HELP/TYPE would be).
    untyped = [(f.name, f.type) for f in families if f.type in ("unknown", "untyped")]
    assert not untyped, untyped
    return {f.name: f for f in families}


def sample_value(families: dict[str, Any], name: str, **labels: str) -> float | None:
    for family in families.values():
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


SNOWFLAKE = 987654321012345678


def two_sessions() -> Metrics:
    metrics = sample_metrics()
    metrics.sessions["1"].channel_id = SNOWFLAKE
    other = msgspec.structs.replace(
        metrics.sessions["1"], session=2, channel_id=SNOWFLAKE + 1, state="FATAL",
        claude_state="dead", memory_bytes=None, turns=0, queued=5, response_ms_avg=None,
    )  # fmt: skip
    metrics.sessions["2"] = other
    return metrics


def test_prometheus_exposition_parses_into_typed_families_with_two_sessions() -> None:
    from prometheus_client import generate_latest

    endpoint = PrometheusEndpoint("127.0.0.1", 0, SnapshotCollector(two_sessions, True))
    text = generate_latest(endpoint.registry).decode()
    families = scrape_families(text)
    assert families["vai_session_memory_bytes"].type == "gauge"
    assert families["vai_session_turns"].type == "counter"
    assert sample_value(families, "vai_session_memory_bytes", session="1") == 1000
    assert sample_value(families, "vai_session_response_seconds", session="1") == 0.0125
    assert sample_value(families, "vai_session_queued", session="2") == 5
    assert sample_value(families, "vai_session_turns_total", session="1") == 3
    assert sample_value(families, "vai_session_up", session="2") == 0
    assert sample_value(families, "vai_session_state", session="2", state="FATAL") == 1
    assert sample_value(families, "vai_session_state", session="2", state="RUNNING") == 0
    assert sample_value(families, "vai_session_claude_state", session="1", claude_state="idle") == 1
    # A snowflake is text: a float would round it.
    channel = str(SNOWFLAKE + 1)
    assert sample_value(families, "vai_session_info", session="2", channel=channel) == 1
    assert sample_value(families, "vai_alert_active", session="1", metric="memory") == 1
    assert sample_value(families, "vai_process_memory_bytes", process="gateway") == 6
    # No sample for a figure that could not be read.
    assert sample_value(families, "vai_session_memory_bytes", session="2") is None
    assert sample_value(families, "vai_session_response_seconds", session="2") is None
    # Each session's samples sit together under their family, in session order.
    memory = [s.labels["session"] for s in families["vai_session_queued"].samples]
    assert memory == ["1", "2"]


def test_prometheus_never_shows_channel_ids_with_an_encryption_key() -> None:
    from prometheus_client import generate_latest

    endpoint = PrometheusEndpoint("127.0.0.1", 0, SnapshotCollector(two_sessions, False))
    text = generate_latest(endpoint.registry).decode()
    assert str(SNOWFLAKE) not in text and 'channel="' not in text
    assert sample_value(scrape_families(text), "vai_session_info", session="1") == 1


def test_prometheus_endpoint_serves_and_stops(short_tmp: Path) -> None:
    endpoint = PrometheusEndpoint("127.0.0.1", 0, SnapshotCollector(two_sessions, True))
    endpoint.start()
    try:
        assert endpoint.port > 0
        scrape = urllib.request.urlopen(f"http://127.0.0.1:{endpoint.port}/metrics", timeout=10)
        families = scrape_families(scrape.read().decode())
        assert sample_value(families, "vai_up") == 1
    finally:
        endpoint.close()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{endpoint.port}/metrics", timeout=2)


# -- log rotation ----------------------------------------------------------------------------


def test_copytruncate_rotation_keeps_an_appending_writer_going(tmp_path: Path) -> None:
    log = tmp_path / "session_1.log"
    fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    writer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\nfor line in sys.stdin: print(line, end='', flush=True)",
        ],
        stdin=subprocess.PIPE,
        stdout=fd,
        text=True,
    )
    os.close(fd)
    assert writer.stdin is not None
    try:
        writer.stdin.write("x" * 99 + "\n")
        writer.stdin.flush()
        wait_until(lambda: log.stat().st_size == 100, 10, "the first line")
        assert not rotate_if_needed(log, 1000, 2)
        assert rotate_if_needed(log, 100, 2)
        assert (tmp_path / "session_1.log.1").read_text() == "x" * 99 + "\n"
        assert log.stat().st_size == 0
        writer.stdin.write("after\n")
        writer.stdin.flush()
        wait_until(lambda: log.read_text() == "after\n", 10, "a line at the start")
        log.write_text("y" * 200)
        assert rotate_logs(tmp_path, 100, 2) == [log]
        assert (tmp_path / "session_1.log.2").read_text().startswith("x")
        assert (tmp_path / "session_1.log.1").read_text() == "y" * 200
        assert os.stat(tmp_path / "session_1.log.1").st_mode & 0o077 == 0
    finally:
        writer.stdin.close()
        writer.wait(10)


# -- cgroups ----------------------------------------------------------------------------------


def test_probe_reads_proc_files(tmp_path: Path) -> None:
    (tmp_path / "cgroup").write_text("4:memory:/box/b1\n1:cpu:/\n0::/user.slice/me.scope\n")
    (tmp_path / "mountinfo").write_text(
        "30 25 0:26 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
        "31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "32 25 0:28 / /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu\n"
    )
    found = probe(tmp_path)
    assert found.v2_dir == Path("/sys/fs/cgroup/unified/user.slice/me.scope")
    assert found.v1_memory_dir == Path("/sys/fs/cgroup/memory/box/b1")
    assert probe(tmp_path / "missing") == CgroupProbe()


def test_cgroup_v2_plan_in_a_delegated_tree(tmp_path: Path) -> None:
    base = tmp_path / "service"
    base.mkdir()
    (base / "cgroup.controllers").write_text("cpu memory pids\n")
    (base / "cgroup.subtree_control").write_text("")
    (base / "cgroup.procs").write_text("")
    layout = Layout(str(tmp_path / "home"))
    limits = LimitsSection(session_memory_mb=100, total_memory_mb=300)
    limiter = MemoryLimiter(layout, limits, probe_fn=lambda: CgroupProbe(v2_dir=base))
    plan = limiter.setup()
    assert plan.mode == "cgroup-v2"
    parent = base / layout.default_tmux_socket()
    assert (base / "cgroup.subtree_control").read_text() == "+memory"
    assert (parent / "memory.max").read_text() == str(300 * 1024 * 1024)
    limiter.prepare_session(2)
    assert (parent / "session-2" / "memory.max").read_text() == str(100 * 1024 * 1024)
    prefix = limiter.command_prefix()
    assert prefix[:2] == ["sh", "-c"] and prefix[3] == str(parent)


def test_no_cgroup_and_no_systemd_means_no_limit_and_says_why(tmp_path: Path) -> None:
    layout = Layout(str(tmp_path))
    limiter = MemoryLimiter(
        layout,
        LimitsSection(enforce="auto"),
        probe_fn=CgroupProbe,
        run=lambda argv: 1,
    )
    plan = limiter.choose()
    assert plan.mode == "off"
    assert "no cgroup file system" in plan.note
    assert limiter.setup().mode == "off"
    assert limiter.command_prefix() == []
    systemd = MemoryLimiter(layout, LimitsSection(enforce="systemd"), run=lambda argv: 0, euid=1000)
    if systemd.choose().mode == "systemd":  # systemd-run installed
        systemd.setup()
        prefix = systemd.command_prefix()
        assert prefix[:3] == ["systemd-run", "--user", "--scope"]
        assert f"MemoryMax={512 * 1024 * 1024}" in prefix
    off = MemoryLimiter(layout, LimitsSection(enforce="off"))
    assert off.choose().mode == "off"


def real_cgroup_limiter(home: Path, session_mb: int) -> MemoryLimiter:
    limiter = MemoryLimiter(Layout(str(home)), LimitsSection(session_memory_mb=session_mb))
    plan = limiter.choose()
    if not plan.mode.startswith("cgroup"):
        pytest.skip(f"no cgroup to own here: {plan.note}")
    return limiter


def test_a_pane_over_its_cgroup_limit_is_killed(short_tmp: Path) -> None:
    limiter = real_cgroup_limiter(short_tmp, session_mb=64)
    limiter.setup()
    try:
        limiter.prepare_session(7)
        hog = "import os; b = b'x' * (256 << 20); print('survived')"
        done = subprocess.run(
            [*limiter.command_prefix(), sys.executable, "-c", hog],
            env={**os.environ, "VAI_SESSION": "7"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode != 0 and "survived" not in done.stdout
        fine = subprocess.run(
            [*limiter.command_prefix(), "sh", "-c", "cat /proc/self/cgroup"],
            env={**os.environ, "VAI_SESSION": "7"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert f"{limiter.name}/session-7" in fine.stdout
    finally:
        limiter.remove_session(7)
        limiter.cleanup()
    assert limiter.parent is not None and not limiter.parent.exists()


# -- the whole bridge ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port: int = probe_socket.getsockname()[1]
        return port


def read_metrics(path: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
        return data
    except (OSError, ValueError):
        return None


def test_metrics_alerts_prometheus_and_rotation(short_tmp: Path, tmux_server: TmuxServer) -> None:
    control = short_tmp / "ballast"
    control.mkdir()
    port = free_port()
    command = [sys.executable, str(REPO / "tests" / "support" / "ballast_claude.py"), str(control)]
    with running_stack(
        short_tmp, tmux_server, channels=2, claude_command=[*command, *standin_command()]
    ) as (stack, (chan, _other)):
        stack.write_config(
            f"""
[monitoring]
interval = 0.2
prometheus_port = {port}
[limits]
session_memory_mb = 256
[alerts]
memory_percent = 50
[logs]
max_bytes = 1500
backups = 2
"""
        )
        stack.start()
        stack.wait_all_running()
        metrics_file = stack.layout.monitoring_dir / "metrics.json"

        # A turn: its response time is measured (prompt accepted -> turn end).
        stack.discord.post_user_message(chan, "hello")
        stack.wait_bot_message(chan, "echo: hello")

        def measured() -> dict[str, Any] | None:
            data = read_metrics(metrics_file)
            return data if data and data["sessions"]["1"]["turns"] == 1 else None

        data = wait_until(measured, 20, "the turn in metrics.json")
        assert stat_mode(metrics_file) == 0o600
        one = data["sessions"]["1"]
        assert one["state"] == "RUNNING"
        assert one["claude_state"] in ("idle", "busy")
        assert one["claude_pid"] and one["worker_pid"]
        assert one["memory_bytes"] > 5 * 1024 * 1024
        assert one["worker_memory_bytes"] > 5 * 1024 * 1024
        assert one["memory_limit_bytes"] == 256 * 1024 * 1024
        assert 0 < one["memory_percent"] < 50
        assert one["cpu_percent"] is not None
        assert one["response_ms_avg"] > 0 and one["response_ms_last"] == one["response_ms_avg"]
        assert one["disk_quota_bytes"] == 250 * 1024 * 1024
        assert one["queued"] == 0 and one["alerts"] == []
        assert set(data["sessions"]) == {"1", "2"}
        assert data["system"]["memory_total_bytes"] > 0
        assert data["gateway"]["state"] == "RUNNING" and data["gateway"]["memory_bytes"] > 0
        assert stack.process is not None and data["supervisor"]["pid"] == stack.process.pid
        if data["limits"]["enforcement"].startswith("cgroup"):
            cgroup = Path(f"/proc/{one['claude_pid']}/cgroup").read_text()
            assert "/session-1" in cgroup

        # Attachments count as disk use.
        attachments = stack.layout.session_attachments(2)
        (attachments / "big.bin").write_bytes(b"\0" * 100_000)
        wait_until(
            lambda: (
                (read_metrics(metrics_file) or {})
                .get("sessions", {})
                .get("2", {})
                .get("disk_bytes")
                == 100_000
            ),
            20,
            "the attachment in metrics.json",
        )

        # Claude's pane grows past 50 % of 256 MiB: one alert in its channel.
        (control / "ballast-1").write_text("160")
        alert = stack.discord.wait_for(
            lambda: next(
                (m for m in stack.bot_messages(chan) if "memory usage" in m["content"]), None
            ),
            30,
            "the memory alert",
        )
        assert alert is not None
        assert alert["content"].startswith("⚠️ Session 1: memory usage ")
        assert "of its 256.0M limit" in alert["content"]
        active = wait_until(
            lambda: (read_metrics(metrics_file) or {}).get("alerts"), 10, "the alert in metrics"
        )
        assert [(a["metric"], a["session"]) for a in active] == [("memory", 1)]
        scrape = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10)
        text = scrape.read().decode()
        assert scrape.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        families = scrape_families(text)
        assert sample_value(families, "vai_alert_active", session="1", metric="memory") == 1
        assert sample_value(families, "vai_session_up", session="2") == 1

        # Back under: one recovery notice, and nothing more while it stays there.
        (control / "ballast-1").write_text("0")
        stack.discord.wait_for(
            lambda: next(
                (m for m in stack.bot_messages(chan) if m["content"].startswith("✅ Session 1")),
                None,
            ),
            30,
            "the recovery notice",
        )
        passes = read_metrics(metrics_file)
        assert passes is not None
        wait_until(
            lambda: (
                (read_metrics(metrics_file) or {}).get("unix_time", 0) > passes["unix_time"] + 0.5
            ),
            10,
            "more monitoring passes",
        )
        notices = [m["content"] for m in stack.bot_messages(chan) if "memory" in m["content"]]
        assert len(notices) == 2, notices
        assert notices[1].startswith("✅ Session 1: memory usage back to ")

        # Logs were rotated by size and go on being written.
        rotated = stack.layout.logs_dir / "supervisor.log.1"
        assert rotated.exists()
        assert stack.layout.process_log("supervisor").stat().st_size < 1500 + 2000
        assert not (stack.layout.logs_dir / "supervisor.log.3").exists()


def stat_mode(path: Path) -> int:
    return path.stat().st_mode & 0o777
