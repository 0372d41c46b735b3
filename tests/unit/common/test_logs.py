"""Log lines: text from outside never carries a terminal control into a log or the journal."""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from vai.common import logs
from vai.common.logs import name_ids, printable, setup_logging

HOSTILE = "\x1b]0;pwned\x07\x1b[2J"
ESCAPED = "\\x1b]0;pwned\\x07\\x1b[2J"


@pytest.fixture
def restore_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    try:
        yield
    finally:
        for handler in root.handlers:
            if handler not in handlers:
                handler.close()
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        (HOSTILE, ESCAPED),
        ("line\nforged INFO line", "line\\nforged INFO line"),
        ("cr\rover", "cr\\rover"),
        ("csi \x9b2J nel \x85 del \x7f nul \x00", "csi \\x9b2J nel \\x85 del \\x7f nul \\x00"),
        ("half \udfff", "half \\udfff"),
        ("tab\tünïcode 🙂 \\ plain", "tab\tünïcode 🙂 \\ plain"),
    ],
)
def test_printable_escapes_controls_and_keeps_text(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_every_line_of_a_log_file_and_of_stderr_is_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    log_file = tmp_path / "logs" / "gateway.log"
    setup_logging("gateway", log_file=log_file)
    log = logging.getLogger("gateway.inbound")
    log.info("user %s said %s", f"mal{HOSTILE}", f"hi{HOSTILE}\nINFO forged")
    try:
        raise ValueError(f"bad {HOSTILE}")
    except ValueError:
        log.exception("failed on %s", "x\x1b[31m")
    for text in (log_file.read_text(encoding="utf-8"), stderr.getvalue()):
        assert "\x1b" not in text and "\x07" not in text
        assert f"user mal{ESCAPED} said hi{ESCAPED}\\nINFO forged" in text
        assert f"ValueError: bad {ESCAPED}" in text
        assert "Traceback (most recent call last):" in text  # tracebacks keep their lines
        assert len([line for line in text.splitlines() if "INFO" in line]) == 1


def test_journal_lines_are_escaped_too(
    monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.setattr(logs, "stderr_is_journal", lambda environ=None: True)
    setup_logging("supervisor")
    logging.getLogger("supervisor").warning("from %s", f"x{HOSTILE}\n<2>forged")
    lines = stderr.getvalue().splitlines()
    assert lines == [f"<4>WARNING supervisor supervisor: from x{ESCAPED}\\n<2>forged"]


def test_known_ids_are_written_as_names_and_other_numbers_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    names = {1234567890123456789: "[channel of session 1]"}
    name_ids(lambda: names)
    try:
        setup_logging("gateway", log_file=tmp_path / "gateway.log")
        log = logging.getLogger("discord.http")
        log.warning("POST /channels/1234567890123456789/messages 429")
        log.warning("message 12345678901234567890 and 234567890123456789")
        names[42] = "[channel of session 2]"
        log.warning("channel 42, not 420")
    finally:
        name_ids(None)
    text = (tmp_path / "gateway.log").read_text()
    assert "1234567890123456789" not in text.replace("12345678901234567890", "")
    assert "POST /channels/[channel of session 1]/messages 429" in text
    assert "message 12345678901234567890 and 234567890123456789" in text
    assert "channel [channel of session 2], not 420" in text


def test_an_uncaught_exception_is_logged_escaped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    stderr = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    setup_logging("worker", log_file=tmp_path / "w.log")
    try:
        raise RuntimeError(f"from Claude: {HOSTILE}")
    except RuntimeError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    thread = threading.Thread(target=lambda: int(f"x{HOSTILE}"))
    thread.start()
    thread.join()
    for text in ((tmp_path / "w.log").read_text(), stderr.getvalue()):
        assert "\x1b" not in text
        assert f"RuntimeError: from Claude: {ESCAPED}" in text
        assert "CRITICAL worker uncaught: RuntimeError" in text
        assert "CRITICAL worker uncaught: ValueError" in text
