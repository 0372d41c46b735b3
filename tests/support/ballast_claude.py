#!/usr/bin/env python3
"""A Claude command whose pane holds as much memory as a test says (memory alerts).

Usage: ballast_claude.py CONTROL_DIR CLAUDE_COMMAND... (the bridge appends its flags).
It starts a ballast child that holds N MiB, N read from CONTROL_DIR/ballast-$VAI_SESSION
(missing or empty: 0), then execs CLAUDE_COMMAND: the ballast stays in the pane's process
tree, the way a tool Claude runs would. The ballast ends when the pane's process does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

MIB = 1024 * 1024


def ballast(path: str, parent: int) -> None:
    held = b""
    size = 0
    while os.getppid() == parent:
        try:
            with open(path) as handle:
                text = handle.read().strip()
        except OSError:
            text = ""
        wanted = int(text) if text.isdigit() else 0
        if wanted != size:
            held = b""
            held = b"\x01" * (wanted * MIB)  # written, so resident
            size = wanted
        time.sleep(0.02)
    del held


def main(argv: list[str]) -> int:
    if argv[:1] == ["--ballast"]:
        ballast(argv[1], int(argv[2]))
        return 0
    control, command = argv[0], argv[1:]
    path = os.path.join(control, f"ballast-{os.environ.get('VAI_SESSION', '0')}")
    subprocess.Popen(
        [sys.executable, __file__, "--ballast", path, str(os.getpid())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.execvp(command[0], command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
