"""Structured log lines for every process: `time level process key=value message`.

Each process writes to stderr, which the supervisor points at that process's own file
under logs/ (one per session), so a session's story can be read on its own.
"""

from __future__ import annotations

import logging
import sys
import time


class _Formatter(logging.Formatter):
    def __init__(self, process: str) -> None:
        super().__init__()
        self._process = process

    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        line = (
            f"{stamp}.{int(record.msecs):03d}Z {record.levelname:<7} {self._process}"
            f" {record.name}: {record.getMessage()}"
        )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def setup_logging(process: str, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(process))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("discord", "aiohttp", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
