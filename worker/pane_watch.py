"""Watching Claude's pane: its screens go to the turn tracker, its death restarts Claude.

Every WATCH_EVERY the pane is checked: a dead Claude is started again in the same pane
(resuming its conversation; nothing is typed until the journal and the transcript have
said what the old one took), and a changed screen (or one not read for a second) is read
and handed to worker/attention.py, which answers dialogs, and to the tracker; the tracker
also gets a tick, for its time-driven rules. While the tracker runs a timed sequence (an
interrupt, a denial) the pane is followed closely: read at every change of its output.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING

from vai.worker.turns.vocabulary import PaneDied, ScreenRead, Tick

if TYPE_CHECKING:
    from vai.worker.main import Worker

log = logging.getLogger("worker")

WATCH_EVERY = 0.5
CLOSE_WATCH_EVERY = 0.1  # at least this often while following closely
# Choices a dead worker left open are adopted if their dialog shows again by then.
ORPHAN_GRACE = 10.0


class PaneWatch:
    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._started = time.monotonic()
        self._follower: asyncio.Task[None] | None = None

    async def loop(self) -> None:
        worker, pane = self.worker, self.worker.pane
        last_seq, last_read = -1, 0.0
        while True:
            await asyncio.sleep(WATCH_EVERY)
            if worker.hooks.spooled():
                # A hook client that found no worker listening, just before this one did.
                await worker.hooks.replay_spool()
            info = await pane.info()
            if info.dead:
                if not await self.restart_claude(info.pid):
                    log.error("Claude did not come back")
                    return
                continue
            now = time.monotonic()
            seq = pane.control.output_seq
            if seq != last_seq or now - last_read >= 1.0:
                last_seq, last_read = seq, now
                await self.read_screen()
            await worker.tell(Tick())

    async def restart_claude(self, pid: int | None) -> bool:
        worker = self.worker
        log.warning("Claude exited; restarting it in the same pane")
        # Nothing may be typed into the new Claude until the journal and the transcript
        # have said what the old one took.
        await worker.typing.stop()
        await worker.attention.close()
        await worker.tell(PaneDied(pid))
        await worker.pane.respawn(worker.state)
        worker.save()
        if not await worker.wait_until_ready():
            return False
        worker.typing.start(on_failure=worker.stopping.set)
        return True

    async def read_screen(self) -> None:
        """A fresh screen for attention (dialogs) and the tracker."""
        worker = self.worker
        screen = await worker.pane.screen()
        worker.attention.check(screen)
        if time.monotonic() - self._started >= ORPHAN_GRACE:
            await worker.choices.drop_orphans()
        await worker.tell(ScreenRead(screen, answering=worker.attention.busy))

    def follow_closely(self) -> None:
        """Start reading the pane at every change, until the tracker's sequence is over."""
        if self._follower is None or self._follower.done():
            self._follower = self.worker.background.spawn(self._follow())

    async def _follow(self) -> None:
        worker, control = self.worker, self.worker.pane.control
        while worker.tracker.watching_closely:
            control.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(control.changed.wait(), CLOSE_WATCH_EVERY)
            screen = await worker.pane.screen()
            await worker.tell(ScreenRead(screen, answering=worker.attention.busy))
            await worker.tell(Tick())
