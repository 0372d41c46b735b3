"""Copies of posted files are pruned after a day, on the hub as on a worker."""

from __future__ import annotations

import os
from pathlib import Path

from vai.common.outbox import OUTBOX_MAX_AGE, prune_outbox


def test_only_copies_older_than_a_day_are_removed(tmp_path: Path) -> None:
    old, fresh = tmp_path / "old", tmp_path / "fresh"
    for folder in (old, fresh):
        folder.mkdir()
        (folder / "file.txt").write_text("x")
    now = 1_000_000.0
    os.utime(old, (now - OUTBOX_MAX_AGE - 1, now - OUTBOX_MAX_AGE - 1))
    os.utime(fresh, (now - 60, now - 60))

    prune_outbox(tmp_path, now)

    assert not old.exists() and (fresh / "file.txt").exists()


def test_a_missing_outbox_is_nothing_to_prune(tmp_path: Path) -> None:
    prune_outbox(tmp_path / "never-made")
