"""worker/attachments.py: hostile names stay inside the folder, limits, clean-up, migration."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.harness import FileServer, file_server
from vai.protocol.messages import AttachmentRef, Author, ChatMessage
from vai.worker.attachments import (
    AttachmentError,
    AttachmentLimits,
    AttachmentStore,
    GlobalSlots,
    migrate_flat_layout,
    safe_name,
)

HOSTILE = [
    "../../etc/passwd",
    "/etc/shadow",
    "..\\..\\windows\\system32\\drivers",
    "..",
    ".",
    "",
    "evil\x00name.txt",
    "a" * 300 + ".png",
    "é" * 200 + ".txt",
    "CON",
    "con.txt",
    "LPT1.log",
    "invoice\u202egnp.exe",
    "tab\tand\nnewline.txt",
    ".hidden",
    'quote"colon:star*.txt',
]


@pytest.mark.parametrize("raw", HOSTILE)
def test_hostile_names_stay_inside(raw: str, tmp_path: Path) -> None:
    name = safe_name(raw)
    assert name and "/" not in name and "\\" not in name and "\x00" not in name
    assert not name.startswith(".") and len(name.encode()) <= 255
    assert "\u202e" not in name and all(ord(c) >= 0x20 for c in name)
    assert name.split(".")[0].upper() not in {"CON", "PRN", "AUX", "NUL", "LPT1"}
    path = tmp_path / name
    path.write_bytes(b"x")  # a real file name on this system
    assert path.resolve().parent == tmp_path.resolve()


def test_names_keep_what_they_can() -> None:
    assert safe_name("IMG_0001.png") == "IMG_0001.png"
    assert safe_name("report final.pdf") == "report final.pdf"
    assert safe_name("../../etc/passwd") == "passwd"
    assert safe_name("CON.txt") == "_CON.txt"
    assert safe_name("invoice\u202egnp.exe") == "invoicegnp.exe"
    long = safe_name("a" * 300 + ".png")
    assert long.endswith(".png") and len(long.encode()) <= 255


@pytest.fixture
def web() -> Iterator[tuple[FileServer, str]]:
    with file_server() as served:
        yield served


def message(*refs: AttachmentRef, message_id: int = 1) -> ChatMessage:
    return ChatMessage(message_id, 1, Author(1, "a"), "look", attachments=refs)


def store(tmp_path: Path, **limits: object) -> AttachmentStore:
    return AttachmentStore(
        tmp_path / "session_1",
        tmp_path / "slots",
        AttachmentLimits(**limits),  # type: ignore[arg-type]
    )


def test_downloads_are_private_and_collision_free(
    tmp_path: Path, web: tuple[FileServer, str]
) -> None:
    server, base = web
    server.files = {"/1": b"one", "/2": b"two"}
    files = store(tmp_path)
    refs = (AttachmentRef("same.txt", f"{base}/1", 3), AttachmentRef("same.txt", f"{base}/2", 3))
    paths = asyncio.run(files.fetch(message(*refs), None))
    assert [Path(p).name for p in paths] == ["same.txt", "same (1).txt"] or [
        Path(p).name for p in paths
    ] == ["same (1).txt", "same.txt"]
    assert sorted(Path(p).read_bytes() for p in paths) == [b"one", b"two"]
    assert all(stat.S_IMODE(Path(p).stat().st_mode) == 0o600 for p in paths)
    assert stat.S_IMODE(files.folder.stat().st_mode) == 0o700
    # Already saved (a retyped message after a restart): nothing is downloaded again.
    hits = len(server.hits)
    assert asyncio.run(files.fetch(message(*refs), paths)) == paths
    assert len(server.hits) == hits


def test_size_limit_and_quota(tmp_path: Path, web: tuple[FileServer, str]) -> None:
    server, base = web
    server.files = {"/big": b"x" * 5000, "/small": b"y" * 600}
    files = store(tmp_path, max_file_bytes=1000, quota_bytes=1000)
    with pytest.raises(AttachmentError, match=r"big\.bin: larger than"):
        asyncio.run(files.fetch(message(AttachmentRef("big.bin", f"{base}/big", 10)), None))
    with pytest.raises(AttachmentError, match=r"lies\.bin: larger than"):
        # The announced size may lie: the bytes are counted as they arrive.
        asyncio.run(files.fetch(message(AttachmentRef("lies.bin", f"{base}/big", 10)), None))
    asyncio.run(files.fetch(message(AttachmentRef("a.txt", f"{base}/small", 600)), None))
    with pytest.raises(AttachmentError, match="quota"):
        asyncio.run(files.fetch(message(AttachmentRef("b.txt", f"{base}/small", 600)), None))
    assert sorted(p.name for p in files.folder.iterdir()) == ["a.txt"]  # no leftovers


def test_a_failed_file_takes_the_others_of_its_message_away(
    tmp_path: Path, web: tuple[FileServer, str]
) -> None:
    server, base = web
    server.files = {"/ok": b"ok"}
    files = store(tmp_path)
    refs = (AttachmentRef("ok.txt", f"{base}/ok", 2), AttachmentRef("no.txt", f"{base}/404", 2))
    with pytest.raises(AttachmentError, match=r"no\.txt: download failed"):
        asyncio.run(files.fetch(message(*refs), None))
    assert list(files.folder.iterdir()) == []


def test_bounded_concurrency(tmp_path: Path) -> None:
    slots = GlobalSlots(tmp_path / "slots", 2)
    first, second = slots.try_take(), slots.try_take()
    assert first is not None and second is not None
    assert slots.try_take() is None  # across processes too: these are flock'ed files
    GlobalSlots.give_back(first)
    third = slots.try_take()
    assert third is not None
    for fd in (second, third):
        GlobalSlots.give_back(fd)


def test_clean_up_keeps_files_in_use(tmp_path: Path) -> None:
    files = store(tmp_path, max_age_s=3600)
    files.prepare()
    old, in_use, new = (files.folder / n for n in ("old.txt", "in-use.txt", "new.txt"))
    for path in (old, in_use, new):
        path.write_text("x")
    past = time.time() - 7200
    for path in (old, in_use):
        os.utime(path, (past, past))
    assert files.clean([str(in_use)]) == 1
    assert sorted(p.name for p in files.folder.iterdir()) == ["in-use.txt", "new.txt"]


def test_old_layout_migrates_into_session_1(tmp_path: Path) -> None:
    root = tmp_path / "attachments"
    (root / "session_2").mkdir(parents=True)
    (root / "IMG_1.png").write_bytes(b"1")
    (root / "notes.txt").write_bytes(b"n")
    session = root / "session_1"
    session.mkdir()
    (session / "notes.txt").write_bytes(b"already")
    moved = migrate_flat_layout(root, session)
    assert sorted(t.name for _, t in moved) == ["IMG_1.png", "notes (1).txt"]
    assert (session / "notes (1).txt").read_bytes() == b"n"
    assert sorted(p.name for p in root.iterdir()) == ["session_1", "session_2"]
    assert migrate_flat_layout(root, session) == []
