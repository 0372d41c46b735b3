"""Expected failures: each becomes one clear line on stderr, never a traceback."""

from __future__ import annotations

from pathlib import Path


class BridgeError(Exception):
    """An expected failure with a message meant for the operator."""


class ConfigError(BridgeError):
    """A configuration or state file that cannot be used as it is."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
