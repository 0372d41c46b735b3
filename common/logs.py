"""Log lines for every process, and the journal under systemd.

Every process logs `time level process logger: message` to stderr. The supervisor points
each child's stderr at that child's own file under logs/ (opened O_APPEND), so a session's
story can be read on its own; the supervisor itself also writes logs/supervisor.log.
Under systemd (JOURNAL_STREAM names our stderr) the supervisor's stderr lines carry a
`<priority>` prefix and no timestamp: the journal adds its own.

Rotation (supervisor/log_rotation.py) truncates files in place, so the O_APPEND
descriptors opened here keep working.

Log lines carry text from outside (message text, user and file names, Claude's answers),
so the formatter, the one place every line passes, writes control characters as escapes:
C0 (but TAB) and DEL, C1, and lone surrogates. No escape sequence reaches a log file, the
journal or the operator's terminal through `vai tail`, a line break inside a message
cannot forge a log line, and every line can be encoded. Tracebacks keep their line breaks;
an uncaught exception is logged too, rather than printed raw by Python.
The same place writes the session's channel ids as names (`name_ids`), so no log holds
one in plain text, whatever logged it (discord.py's own rate-limit lines name URLs).
A line logged with `extra=PRIVATE` (a secret only the operator may see, like the local
chat page's key) goes to the process's own log file (0600) and to a terminal, never to
the journal or another stream.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PRIVATE = {"private": True}


class _NotPrivate(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not getattr(record, "private", False)


# syslog priorities, as the journal reads them from a `<N>` prefix (sd-daemon.h).
_PRIORITY = {"CRITICAL": 2, "ERROR": 3, "WARNING": 4, "INFO": 6, "DEBUG": 7}


# C0 controls but TAB (LF and CR included), DEL, C1 controls, and lone surrogates.
_UNPRINTABLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def printable(text: str) -> str:
    """`text` with control characters and lone surrogates written as Python escapes."""
    return _UNPRINTABLE.sub(_escape, text)


IdNames = Callable[[], Mapping[int, str]]


class _IdNamer:
    """Replaces whole numbers that are known ids by their names, in log lines.

    A line is first searched for each id as plain text (C-speed); the regular expression
    that keeps digit boundaries runs only on the rare line that holds one.
    """

    def __init__(self) -> None:
        self.source: IdNames | None = None
        self._known: dict[int, str] = {}
        self._names: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None

    def __call__(self, text: str) -> str:
        known = self.source() if self.source is not None else {}
        if known != self._known:
            self._known = dict(known)
            self._names = {str(number): name for number, name in known.items()}
            longest_first = sorted(self._names, key=len, reverse=True)
            alternatives = "|".join(longest_first)
            pattern = f"(?<![0-9])(?:{alternatives})(?![0-9])"
            self._pattern = re.compile(pattern) if longest_first else None
        if self._pattern is None or not any(number in text for number in self._names):
            return text
        return self._pattern.sub(lambda match: self._names[match.group()], text)


_name_ids = _IdNamer()


def name_ids(source: IdNames | None) -> None:
    """From now on, log lines show each id `source()` maps (a session's channel id) by its
    name instead; None stops it."""
    _name_ids.source = source


class _Formatter(logging.Formatter):
    def __init__(self, process: str, journal: bool = False) -> None:
        super().__init__()
        self._process = process
        self._journal = journal

    def format(self, record: logging.LogRecord) -> str:
        message = printable(record.getMessage())
        text = f"{record.levelname:<7} {self._process} {printable(record.name)}: {message}"
        if record.exc_info:
            trace = self.formatException(record.exc_info)
            text += "\n" + "\n".join(printable(line) for line in trace.splitlines())
        if record.stack_info:
            text += "\n" + "\n".join(printable(line) for line in record.stack_info.splitlines())
        text = _name_ids(text)
        if self._journal:
            priority = _PRIORITY.get(record.levelname, 6)
            return "\n".join(f"<{priority}>{line}" for line in text.splitlines())
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{stamp}.{int(record.msecs):03d}Z {text}"


def stderr_is_journal(environ: dict[str, str] | None = None) -> bool:
    """systemd sets JOURNAL_STREAM=dev:ino for the stream it connected to stderr."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError):
        return False
    return (st.st_dev, st.st_ino) == (int(device), int(inode))


def _same_file(stream_fd: int, path: Path) -> bool:
    try:
        a, b = os.fstat(stream_fd), path.stat()
    except (OSError, ValueError):
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _is_terminal(fd: int) -> bool:
    try:
        return fd >= 0 and os.isatty(fd)
    except OSError:
        return False


def setup_logging(process: str, level: int = logging.INFO, log_file: Path | None = None) -> None:
    """Log to stderr; also to `log_file` (append) unless stderr already is that file."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(process, journal=stderr_is_journal()))
    handlers: list[logging.Handler] = [handler]
    try:
        stderr_fd = sys.stderr.fileno()
    except (OSError, ValueError):
        stderr_fd = -1
    own_file = log_file is not None and _same_file(stderr_fd, log_file)
    if not own_file and not _is_terminal(stderr_fd):
        handler.addFilter(_NotPrivate())
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not own_file:
            fd = os.open(log_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.close(fd)  # created with the right mode; FileHandler appends (O_APPEND)
            to_file = logging.FileHandler(log_file, mode="a", encoding="utf-8")
            to_file.setFormatter(_Formatter(process))
            handlers.append(to_file)
    root = logging.getLogger()
    for old in root.handlers:
        old.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    for noisy in ("discord", "aiohttp", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _log_uncaught(kind: type[BaseException], value: BaseException, trace: Any) -> None:
    """Through the formatter, like every other line (Python would print it raw)."""
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, trace)
        return
    logging.getLogger("uncaught").critical("%s", kind.__name__, exc_info=(kind, value, trace))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback)
