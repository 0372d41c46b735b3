"""The terminal: raw mode with bracketed paste on, size, writes that survive a hang-up.

Why: the real CLI reads keys raw (CR and LF differ, Ctrl-C is a key, not a signal) and
turns bracketed paste on, which is what makes tmux `paste-buffer -p` send the markers.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

FALLBACK_SIZE = (50, 200)


class Terminal:
    """Owns stdin/stdout; restores the tty on leave(), whatever happened."""

    def __init__(self, fd_in: int = 0, fd_out: int = 1) -> None:
        self.fd_in = fd_in
        self.fd_out = fd_out
        self._saved: list[Any] | None = None

    def enter(self) -> None:
        """Raw mode (this also drops keys typed before it, like the real CLI's start-up)."""
        if os.isatty(self.fd_in):
            import termios
            import tty

            self._saved = termios.tcgetattr(self.fd_in)
            tty.setraw(self.fd_in)
        self.write(b"\x1b[?2004h")

    def leave(self) -> None:
        """Bracketed paste off, cursor shown and below the drawing, tty mode restored."""
        rows, _ = self.size()
        self.write(f"\x1b[?2004l\x1b[?25h\x1b[{rows};1H\r\n".encode())
        if self._saved is not None:
            import termios

            with contextlib.suppress(termios.error):
                termios.tcsetattr(self.fd_in, termios.TCSADRAIN, self._saved)
            self._saved = None

    def size(self) -> tuple[int, int]:
        """(rows, columns) of the pane, read fresh so a resize is picked up."""
        try:
            size = os.get_terminal_size(self.fd_out)
        except OSError:
            return FALLBACK_SIZE
        return max(size.lines, 1), max(size.columns, 10)

    def write(self, data: bytes) -> None:
        """Write everything, or give up quietly once the tty is gone (SIGHUP, EIO)."""
        view = memoryview(data)
        while view:
            try:
                written = os.write(self.fd_out, view)
            except OSError:
                return
            view = view[written:]
