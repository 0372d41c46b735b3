"""Answering Claude's dialogs with keys, like a careful person at the terminal.

What the real CLI taught (tests/fixtures/real_screens/README.md): a dialog re-renders
about 0.2 s after it appears and resets its selection, and keys pressed before that are
lost; so every answer waits until the screen has been still for half a second, then
presses, then checks the dialog actually went away (and tries again if not).

Numbered dialogs (permission, question) take the option's digit. The start-up dialogs
(folder trust, custom API key, bypass-permissions warning) do not: the selection moves
with Up/Down and Enter confirms. Their default is the safe "No" (which for trust and
bypass makes Claude exit), so the worker only moves to "Yes" when configured to, and
otherwise asks the channel.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

import msgspec

from vai.worker.screen import Screen, read_screen

log = logging.getLogger("worker.dialogs")

SETTLE = 0.5
ATTEMPTS = 3
MOVE_LIMIT = 12

# The option that accepts each start-up dialog (the others decline).
ACCEPT_OPTION = {
    "trust": "Yes, I trust this folder",
    "api_key": "Yes",
    "bypass": "Yes, I accept",
}
STARTUP_KINDS = tuple(ACCEPT_OPTION)
STARTUP_TITLES = {
    "trust": "Claude Code asks whether to trust the working folder",
    "api_key": "Claude Code asks whether to use the API key from its environment",
    "bypass": "Claude Code asks to confirm Bypass Permissions mode",
}


class StartupAnswers(msgspec.Struct, frozen=True):
    """Which start-up dialogs the worker accepts by itself (the rest go to the channel)."""

    trust_work_dir: bool = False
    approve_api_key: bool = False
    accept_bypass_permissions: bool = False

    def accepts(self, kind: str) -> bool:
        return {
            "trust": self.trust_work_dir,
            "api_key": self.approve_api_key,
            "bypass": self.accept_bypass_permissions,
        }.get(kind, False)


class Pane(Protocol):
    async def lines(self) -> list[str]: ...

    async def send_key(self, key: str) -> None: ...


async def settled(pane: Pane, quiet: float = SETTLE, timeout: float = 5.0) -> Screen:
    """The screen once it has not changed for `quiet` seconds (or when time is up)."""
    deadline = time.monotonic() + timeout
    last = await pane.lines()
    since = time.monotonic()
    while True:
        await asyncio.sleep(0.05)
        now_lines, now = await pane.lines(), time.monotonic()
        if now_lines != last:
            last, since = now_lines, now
        elif now - since >= quiet or now >= deadline:
            return read_screen("\n".join(last))


def option_index(screen: Screen, label: str) -> int | None:
    try:
        return list(screen.options).index(label)
    except ValueError:
        return None


def _same_dialog(before: Screen, after: Screen) -> bool:
    return (after.state, after.kind, after.dialog, after.options) == (
        before.state,
        before.kind,
        before.dialog,
        before.options,
    )


async def choose(pane: Pane, index: int) -> bool:
    """Pick option `index` of the dialog on screen; True once the dialog moved on."""
    for attempt in range(1, ATTEMPTS + 1):
        screen = await settled(pane)
        if screen.state not in ("permission", "question", "dialog"):
            return attempt > 1  # gone: our previous key took effect late
        if index >= len(screen.options):
            log.warning("the dialog has no option %d: %s", index + 1, screen.options)
            return False
        if screen.kind in ("permission", "question"):
            await pane.send_key(str(index + 1))  # these take the option's digit
        elif await _select(pane, screen, index):
            await pane.send_key("Enter")
        else:
            continue
        after = await settled(pane, quiet=0.3, timeout=3.0)
        if not _same_dialog(screen, after):
            return True
        log.info("the dialog did not take the answer (attempt %d); again", attempt)
    return False


async def _select(pane: Pane, screen: Screen, index: int) -> bool:
    """Move the highlight to option `index` with Up/Down; True when it is there."""
    current = screen
    for _ in range(MOVE_LIMIT):
        if current.selected == index:
            return True
        if current.selected is None:
            return False
        await pane.send_key("Down" if current.selected < index else "Up")
        await asyncio.sleep(0.1)
        current = read_screen("\n".join(await pane.lines()))
        if current.state != screen.state:
            return False
    return current.selected == index
