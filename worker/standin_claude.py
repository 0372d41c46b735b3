#!/usr/bin/env python3
"""A stand-in for the `claude` CLI, for fast tests and an offline demo of the bridge.

Run it as `python3 worker/standin_claude.py ARGS` or `python -m vai.worker.standin_claude ARGS`.
It draws a Claude-Code-like screen in its tty, reads keys raw, runs the configured hooks
with the real payloads and writes transcripts in the real layout; answers are scripted
(see worker/standin/cli.py USAGE). Stdlib only, and it imports little so it starts fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable


def _entry() -> Callable[[list[str]], int]:
    """The app's main(), whether run as a module or as a file.

    As a file, the helper package is imported as top-level `standin` from this file's
    folder (put on sys.path explicitly: `python -I`/`-P` leave it out), which also avoids
    importing worker/__init__.py and whatever it may grow to import.
    """
    if __package__:
        name = f"{__package__}.standin.app"
    else:
        name = "standin.app"
        sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
    main: Callable[[list[str]], int] = importlib.import_module(name).main
    return main


if __name__ == "__main__":
    sys.exit(_entry()(sys.argv[1:]))
