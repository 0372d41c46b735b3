"""deploy/: the systemd units say what the supervisor does, the example config is complete."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import msgspec
import pytest

from tests.support.harness import REPO
from vai.supervisor.config import FileConfig

DEPLOY = REPO / "deploy"


def unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file: section -> key -> values (keys may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] | None = None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"{path}: {line!r} outside a section"
        key, sep, value = line.partition("=")
        assert sep, f"{path}: {line!r} is not KEY=VALUE"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def test_units_are_notify_services_with_watchdog_and_restart_limits() -> None:
    for name in ("vai.service", "vai-user.service", "vai-hub.service", "vai-host.service"):
        sections = unit(DEPLOY / name)
        service, unit_section = sections["Service"], sections["Unit"]
        assert service["Type"] == ["notify"]
        assert service["NotifyAccess"] == ["main"]
        assert int(service["WatchdogSec"][0]) >= 10
        assert service["Restart"] == ["on-failure"]
        assert service["KillMode"] == ["mixed"]
        assert service["ExecStart"][0].endswith("vai run --host" if "host" in name else "vai run")
        assert service["Delegate"] == ["yes"]
        assert "StartLimitIntervalSec" in unit_section and "StartLimitBurst" in unit_section
        assert not {"StartLimitIntervalSec", "StartLimitBurst"} & set(service)
        assert "Install" in sections
        # Claude must keep working: Node's JIT, tmux's socket in /tmp, the delegated cgroup.
        for forbidden in ("MemoryDenyWriteExecute", "PrivateTmp", "ProtectControlGroups"):
            assert forbidden not in service, f"{name}: {forbidden} breaks Claude or tmux"
    for name in ("vai.service", "vai-hub.service", "vai-host.service"):
        system = unit(DEPLOY / name)["Service"]
        assert system["User"] == ["vai"]
        assert system["NoNewPrivileges"] == ["yes"]
        assert any(v.startswith("VAI_HOME=") for v in system["Environment"])
        # Claude's own user: setpriv needs these two, and nothing more.
        assert system["AmbientCapabilities"] == ["CAP_SETUID CAP_SETGID"]
        assert system["CapabilityBoundingSet"] == ["CAP_SETUID CAP_SETGID"]
        assert system["StateDirectoryMode"] == ["0711"]


def example() -> dict[str, object]:
    return tomllib.loads((DEPLOY / "vai.example.toml").read_text())


def test_example_config_documents_every_setting_with_its_default() -> None:
    raw = example()
    shown = msgspec.to_builtins(msgspec.convert(raw, FileConfig))
    defaults = msgspec.to_builtins(FileConfig())
    differ = [
        f"[{section}] {key} = {value!r} (default {defaults[section].get(key)!r})"
        for section, table in shown.items()
        for key, value in table.items()
        if defaults[section].get(key) != value
    ]
    assert not differ, "deploy/vai.example.toml shows values that are not the defaults: " + (
        "; ".join(differ)
    )

    def walk(defaults: msgspec.Struct, values: dict[str, object], where: str) -> None:
        for name in type(defaults).__struct_fields__:
            default = getattr(defaults, name)
            if isinstance(default, dict):
                continue  # per-session tables ([discord.sessions.N]): a commented example
            assert name in values, f"deploy/vai.example.toml lacks {where}{name}"
            if isinstance(default, msgspec.Struct):
                table = values[name]
                assert isinstance(table, dict)
                walk(default, table, f"{where}{name}.")

    walk(FileConfig(), raw, "")
    text = (DEPLOY / "vai.example.toml").read_text()
    assert "[discord.sessions.2]" in text
    assert "[claude.sessions.2]" in text


def test_every_example_setting_has_a_comment_nearby() -> None:
    lines = (DEPLOY / "vai.example.toml").read_text().splitlines()
    for index, line in enumerate(lines):
        if "=" in line and not line.startswith("#"):
            before = lines[max(0, index - 12) : index]
            assert any(b.startswith("#") for b in before), f"no comment above {line!r}"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
@pytest.mark.parametrize(
    ("name", "worst"),
    [
        ("vai.service", 5.0),
        ("vai-user.service", 7.5),
        ("vai-hub.service", 5.0),
        ("vai-host.service", 5.0),
    ],
)
def test_units_score_within_their_exposure_budget(name: str, worst: float) -> None:
    """`systemd-analyze security`: the system unit OK, the user unit at most MEDIUM (a user
    manager cannot apply mount-namespace hardening on older systemd)."""
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(DEPLOY / name)],
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout)
    assert match, done.stdout + done.stderr
    assert float(match.group(1)) <= worst, done.stdout
