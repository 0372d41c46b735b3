"""The `rig` fixture: a real worker process against a test ROUTER (tests/support/worker_rig.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.tmux import TmuxServer
from tests.support.worker_rig import WorkerRig


@pytest.fixture
def rig(short_tmp: Path, tmux_server: TmuxServer) -> Iterator[WorkerRig]:
    rig = WorkerRig(short_tmp, tmux_server)
    try:
        yield rig
    finally:
        rig.close()
