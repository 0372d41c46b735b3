"""`vai reload`'s plan (what applies now, at the next start, or never live) and the
operator's stops file: pure rules, no processes."""

from __future__ import annotations

import logging
from pathlib import Path

import msgspec
import pytest

from vai.common.errors import ConfigError
from vai.common.logs import PRIVATE, setup_logging
from vai.protocol.layout import Layout
from vai.supervisor.config import FileConfig, load_config
from vai.supervisor.operator_stops import load_stops, mark_stopped, stops_file
from vai.supervisor.reload import plan_reload


def test_reload_sorts_each_changed_setting_into_its_group(tmp_path: Path) -> None:
    running = load_config({"VAI_HOME": str(tmp_path)}, cwd=tmp_path)
    file = running.file
    fresh = msgspec.structs.replace(
        running,
        token="new-token" if running.token else None,
        claude_work_dir="/elsewhere",
        encryption_key="another",
        file=msgspec.structs.replace(
            file,
            discord=msgspec.structs.replace(file.discord, allowed_users=[1], api_url="http://x"),
            alerts=msgspec.structs.replace(file.alerts, memory_percent=50.0),
            supervisor=msgspec.structs.replace(file.supervisor, start_retries=9),
            monitoring=msgspec.structs.replace(file.monitoring, response_window=9, interval=1.0),
        ),
    )
    plan = plan_reload(running, fresh)
    assert plan.live == ["discord.allowed_users", "monitoring.interval", "alerts.memory_percent"]
    assert plan.next_start == ["discord.api_url", "Claude's work dir"]
    assert plan.kept == ["supervisor.start_retries", "monitoring.response_window", "ENCRYPTION_KEY"]
    # The config from now on: live and next-start values taken, the kept ones not.
    new = plan.config
    assert new.file.discord.allowed_users == [1] and new.claude_work_dir == "/elsewhere"
    assert new.file.supervisor.start_retries == file.supervisor.start_retries
    assert new.file.monitoring.response_window == file.monitoring.response_window
    assert new.file.monitoring.interval == 1.0
    assert new.encryption_key == running.encryption_key
    lines = plan.lines()
    assert (
        lines[0] == "applied now: discord.allowed_users, monitoring.interval, alerts.memory_percent"
    )
    assert "NOT applied" in lines[2]
    assert plan_reload(running, running).lines() == ["reloaded: nothing changed"]
    assert plan_reload(running, running).config == running
    assert FileConfig() == running.file


def test_the_owners_are_applied_live(tmp_path: Path) -> None:
    running = load_config({"VAI_HOME": str(tmp_path)}, cwd=tmp_path)
    discord = msgspec.structs.replace(running.file.discord, owners=[42])
    fresh = msgspec.structs.replace(
        running, file=msgspec.structs.replace(running.file, discord=discord)
    )
    plan = plan_reload(running, fresh)
    assert plan.live == ["discord.owners"] and plan.config.file.discord.owners == [42]


def test_switching_between_the_demo_and_a_real_discord_waits_for_a_restart(tmp_path: Path) -> None:
    demo = load_config({"VAI_HOME": str(tmp_path)}, cwd=tmp_path)
    real = msgspec.structs.replace(demo, token="x" * 30)
    plan = plan_reload(demo, real)
    assert plan.config.token is None
    assert plan.kept == ["the bot token (between the local demo Discord and a real one)"]


def test_operator_stops_persist_and_a_corrupt_file_is_reported(tmp_path: Path) -> None:
    layout = Layout(str(tmp_path))
    assert load_stops(layout) == set()
    assert mark_stopped(layout, 2, True) and not mark_stopped(layout, 2, True)
    assert mark_stopped(layout, 5, True)
    assert load_stops(layout) == {2, 5}
    assert stops_file(layout).stat().st_mode & 0o777 == 0o600
    assert mark_stopped(layout, 2, False) and load_stops(layout) == {5}
    assert mark_stopped(layout, 5, False) and not stops_file(layout).exists()
    stops_file(layout).write_text('["two"]')
    with pytest.raises(ConfigError):
        load_stops(layout)
    assert stops_file(layout).read_text() == '["two"]'  # never overwritten


def test_private_lines_reach_the_log_file_but_not_a_stream(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_file = tmp_path / "supervisor.log"
    setup_logging("supervisor", log_file=log_file)
    try:
        logging.getLogger("t").info("open http://127.0.0.1:1/?key=secret", extra=PRIVATE)
        logging.getLogger("t").info("an ordinary line")
        for handler in logging.getLogger().handlers:
            handler.flush()
        written = log_file.read_text()
        shown = capsys.readouterr().err
    finally:
        for handler in logging.getLogger().handlers:
            handler.close()
        logging.getLogger().handlers.clear()
    assert "key=secret" in written and "an ordinary line" in written
    assert "key=secret" not in shown and "an ordinary line" in shown
