"""The supervisor's shape holds: nothing imports the process's top (sizes: test_layers.py).

server.py builds the parts; the parts see each other through supervisor/interfaces.py, so
only the `vai run` command may import server.py, and the control API and the monitor
never import the lifecycle, the bus or the server.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.harness import REPO

SUPERVISOR = REPO / "supervisor"


def imports_of(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_only_vai_run_imports_the_server() -> None:
    importers = sorted(
        str(path.relative_to(REPO))
        for path in SUPERVISOR.rglob("*.py")
        if "vai.supervisor.server" in imports_of(path)
    )
    assert importers == ["supervisor/commands/run.py"]


def test_the_control_api_and_the_monitor_see_only_interfaces() -> None:
    forbidden = {
        "vai.supervisor.server",
        "vai.supervisor.children",
        "vai.supervisor.bus",
        "vai.supervisor.switchboard",
        "vai.supervisor.live_sessions",
    }
    narrow = ["control.py", "monitor.py", "monitor_alerts.py", "monitor_readings.py"]
    for name in narrow:
        wrong = imports_of(SUPERVISOR / name) & forbidden
        assert not wrong, f"{name} imports {sorted(wrong)}"
