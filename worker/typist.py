"""Putting text into Claude's input box, and emptying it, without surprises.

The text goes in as small bracketed pastes (worker/claude_pane.py, worker/prompt_input.py
say why), and the box must then show it verbatim: if the CLI turned it into a
`[Pasted text #N]` reference (pieces read together) or a shell-mode command, the box is
cleared and the text pasted again, slower. Clearing uses Ctrl-C, which also arms the CLI's
"Press Ctrl-C again to exit" for about a second, so two Ctrl-C are never sent that close.
"""

from __future__ import annotations

import asyncio
import logging
import time

from vai.worker import prompt_input
from vai.worker.claude_pane import ClaudePane

log = logging.getLogger("worker.typist")

CTRL_C_REARM = 1.5  # seconds between two Ctrl-C (the CLI's exit window is ~0.8-1 s)


class Typist:
    def __init__(self, pane: ClaudePane) -> None:
        self.pane = pane
        self._last_ctrl_c = 0.0

    async def put_in_box(self, text: str, what: str) -> bool:
        """Paste the text and check the box shows it verbatim (not as a paste reference)."""
        for pace in (0.0, 0.05):
            await self.pane.paste(text, pace=pace)
            echoed = await self.pane.wait_screen(
                lambda s: (
                    s.state == "idle"
                    and (
                        prompt_input.box_shows(s.input_text, text, s.box_scrolled)
                        or s.has_pasted_reference
                        or s.shell_mode
                    )
                ),
                3.0,
            )
            if echoed is None:
                log.warning("%s was not echoed in the input box", what)
                return False
            if not (echoed.has_pasted_reference or echoed.shell_mode):
                return True
            # Pieces read together count as one big paste (Claude would get the text
            # wrapped); clear the box and paste again, slower.
            log.warning("%s did not arrive verbatim; pasting it again", what)
            if not await self.clear_input() or not await self.leave_shell_mode():
                return False
        return False

    async def clear_input(self) -> bool:
        """Empty Claude's input box (Ctrl-C clears it when it holds text); True if empty.

        Ctrl-C also arms "Press Ctrl-C again to exit" for about a second (real CLI and
        stand-in alike): it is only sent to a box that holds something, and never while
        armed, so a second clear cannot end Claude.
        """
        screen = await self.pane.wait_screen(
            lambda s: s.state != "idle" or not s.exit_armed, CTRL_C_REARM + 1
        )
        if screen is None or screen.state != "idle":
            log.warning("could not clear Claude's input box (it is not idle)")
            return False
        if not screen.input_text:
            return True
        wait = self._last_ctrl_c + CTRL_C_REARM - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)
        self._last_ctrl_c = time.monotonic()
        await self.pane.send_key("C-c")
        cleared = await self.pane.wait_screen(lambda s: s.state != "idle" or not s.input_text, 2.0)
        if cleared is None or cleared.state != "idle":
            log.warning("could not clear Claude's input box")
            return False
        return True

    async def leave_shell_mode(self) -> bool:
        """Back from `!` shell mode to the prompt (Backspace on the empty box)."""
        screen = await self.pane.screen()
        if not screen.shell_mode:
            return True
        if screen.input_text and not await self.clear_input():
            return False
        await self.pane.send_key("BSpace")
        left = await self.pane.wait_screen(lambda s: not s.shell_mode, 2.0)
        if left is None:
            log.warning("could not leave shell mode")
        return left is not None
