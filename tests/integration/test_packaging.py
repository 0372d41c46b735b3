"""The installed project lives under one namespace (`vai.*`) and coexists with supervisord.

supervisord's distribution installs a top-level `supervisor` package; so did this project
before it moved under `vai`. The test installs both into one fresh environment, as a user
would with `pip install`, and runs each.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.harness import REPO

SUPERVISORD = "supervisor==4.2.5"
NOT_SOURCE = (".git", ".venv", ".cache", "build", "*.egg-info", "__pycache__", ".*_cache")

CHECK_IMPORTS = """
import importlib.util, importlib.metadata
import supervisor.supervisord, supervisor.options
import vai.supervisor.cli, vai.supervisor.server, vai.worker.main, vai.gateway.main
for name in ("protocol", "worker", "gateway"):
    assert importlib.util.find_spec(name) is None, name
tops = {f.parts[0] for f in importlib.metadata.files("claude-discord-bridge") or []}
assert {t for t in tops if not t.endswith(".dist-info")} <= {"vai", ".."}, tops
from importlib import resources
page = resources.files("vai.gateway.local_discord")  # the demo chat page's files
for name in ("chat_page.html", "chat_page.js", "chat_page.css"):
    assert page.joinpath(name).is_file(), name
print("ok")
"""


def run(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in argv], capture_output=True, text=True, check=False, cwd=cwd
    )


@pytest.mark.timeout(600)
def test_installs_beside_supervisord(short_tmp: Path) -> None:
    venv = short_tmp / "venv"
    python = venv / "bin" / "python"
    run(sys.executable, "-m", "venv", venv, cwd=short_tmp).check_returncode()
    # A copy of the source (links kept): pip builds in-tree and must not write into REPO.
    source = short_tmp / "src"
    shutil.copytree(REPO, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    pip = run(python, "-m", "pip", "install", "-q", SUPERVISORD, source, cwd=short_tmp)
    assert pip.returncode == 0, pip.stderr[-2000:]
    both = run(python, "-c", CHECK_IMPORTS, cwd=short_tmp)
    assert both.stdout.strip() == "ok", both.stderr
    for tool in ("supervisord", "vai", "dp"):
        done = run(venv / "bin" / tool, "--help", cwd=short_tmp)
        assert done.returncode == 0, f"{tool}: {done.stderr}"
    assert "supervisord" in run(venv / "bin" / "supervisord", "--help", cwd=short_tmp).stdout
