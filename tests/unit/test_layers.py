"""The package layers hold: nothing imports upward, and no module grows past ~400 lines.

protocol (pure data) < common (shared bottom layer) < worker, gateway, supervisor. The
three processes talk over the bus, never by importing each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.harness import REPO

ALLOWED = {
    "protocol": {"protocol"},
    "common": {"protocol", "common"},
    "worker": {"protocol", "common", "worker"},
    "gateway": {"protocol", "common", "gateway"},
    "supervisor": {"protocol", "common", "supervisor"},
}


def imported_packages(path: Path) -> set[tuple[str, int]]:
    """Our packages a module imports (`vai.<package>`), with the line of each import."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "vai" and len(parts) > 1:
                found.add((parts[1], node.lineno))
    return found


def test_no_package_imports_a_higher_one() -> None:
    wrong = []
    for package, allowed in ALLOWED.items():
        for path in sorted((REPO / package).rglob("*.py")):
            for imported, line in sorted(imported_packages(path)):
                if imported not in allowed:
                    wrong.append(f"{path.relative_to(REPO)}:{line} imports vai.{imported}")
    assert not wrong, "\n".join(wrong)


def test_protocol_does_no_io() -> None:
    io_modules = {"zmq", "socket", "asyncio", "subprocess", "sqlite3", "discord"}
    for path in sorted((REPO / "protocol").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
                for name in names:
                    assert name.split(".")[0] not in io_modules, f"{path.name} imports {name}"


MAX_LINES = 400
# The stand-in Claude and the local Discord are test doubles of whole programs.
EXEMPT = ("worker/standin/", "gateway/local_discord/")


def test_no_module_grows_past_400_lines() -> None:
    long = {
        rel: lines
        for package in ALLOWED
        for path in sorted((REPO / package).rglob("*.py"))
        if not (rel := str(path.relative_to(REPO))).startswith(EXEMPT)
        and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
