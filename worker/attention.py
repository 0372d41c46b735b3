"""Screens that wait for someone: get them an answer, never hang silently.

The hooks answer most of Claude's questions (worker/asking.py: PermissionRequest and
AskUserQuestion go to the channel while the hook waits). This module covers what the
pane alone shows: a permission or question screen no hook is waiting on (its hook went
to a worker that died; a question's answer, several options or typed text too, goes in
with the keys worker/question_keys.py plans), the start-up dialogs (folder trust, custom
API key, bypass warning: answered per configuration, otherwise asked in the channel), and
any other dialog (a slash command's picker: its options are asked in the channel; a menu without
options is closed with Escape once it has sat untouched for a while). It never decides
about the turn: a permission it denied in the pane is told to the turn tracker, which
knows that the CLI ends such a turn without a Stop hook.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from vai.worker import question_keys
from vai.worker.choices import ChoiceBroker
from vai.worker.dialogs import (
    ACCEPT_OPTION,
    STARTUP_KINDS,
    STARTUP_TITLES,
    Pane,
    StartupAnswers,
    choose,
    option_index,
    settled,
)
from vai.worker.screen import Screen
from vai.worker.tool_hooks import ALLOW, PERMISSION_OPTIONS
from vai.worker.turns.vocabulary import PaneDenied, TurnEvent

log = logging.getLogger("worker.attention")

# A permission screen whose PermissionRequest hook is on its way must not be asked twice:
# the pane is only answered for screens that stayed this long without a hook.
HOOK_GRACE = 1.5
IDLE_MENU_CLOSE = 10.0


class QuestionPane(Pane, Protocol):
    """A pane that also takes pasted text (an answer typed instead of an option)."""

    async def paste(self, text: str, pace: float = ...) -> None: ...


class Attention:
    def __init__(
        self,
        pane: QuestionPane,
        broker: ChoiceBroker,
        startup: StartupAnswers,
        tell: Callable[[TurnEvent], Awaitable[None]],
    ) -> None:
        self.pane = pane
        self.broker = broker
        self.startup = startup
        self.tell = tell
        self._task: asyncio.Task[None] | None = None
        self._seen: dict[str, float] = {}

    @property
    def busy(self) -> bool:
        return self._task is not None and not self._task.done()

    def check(self, screen: Screen) -> None:
        """Called with every fresh screen; starts handling a dialog that needs an answer."""
        now = time.monotonic()
        key = screen.kind or screen.state
        if screen.state not in ("permission", "question", "dialog"):
            self._seen.clear()
            return
        first_seen = self._seen.setdefault(key, now)
        if self.busy:
            return
        if screen.state in ("permission", "question"):
            if self.broker.pending(screen.state, source="hook") is not None:
                return
            # Not before its hook had a chance, nor while an answered dialog is closing.
            answered = self.broker.closed_at.get(screen.state, float("-inf"))
            if now - max(first_seen, answered) < HOOK_GRACE:
                return
        self._start(self._handle(screen, first_seen))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    def _start(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("answering a dialog failed")

        self._task = asyncio.create_task(run())

    async def _handle(self, screen: Screen, first_seen: float) -> None:
        if screen.state == "permission":
            await self._permission(screen)
        elif screen.state == "question":
            await self._question(screen)
        elif screen.kind in STARTUP_KINDS:
            await self._startup(screen)
        elif screen.options:
            await self._ask_options(screen, screen.dialog, list(screen.options))
        elif time.monotonic() - first_seen >= IDLE_MENU_CLOSE:
            log.info("closing a menu nobody answers: %s", screen.dialog.split("\n")[0])
            await self.pane.send_key("Escape")
            self._seen.clear()

    # -- permission and question screens without a hook --------------------------------------

    async def _permission(self, screen: Screen) -> None:
        options = list(PERMISSION_OPTIONS)
        pending = await self.broker.open(
            "permission",
            screen.dialog,
            options,
            "pane",
            topic="pane",
            request_id=self.broker.adopt("permission", options),
        )
        answer = await self.broker.wait(pending)
        if pending.source == "hook":
            return  # a PermissionRequest hook took this choice over and answers it
        allow = answer is not None and answer.option == ALLOW
        now = await settled(self.pane)
        if now.state != "permission":
            log.info("the permission dialog was answered elsewhere")
            return
        index = 0 if allow else option_index(now, "No")
        if index is None:
            index = len(now.options) - 1
        log.info("answering the permission dialog in the pane: %s", now.options[index])
        if await choose(self.pane, index) and not allow:
            await self.tell(PaneDenied())

    async def _question(self, screen: Screen) -> None:
        options = question_keys.labels(screen)
        if not options:
            return
        answer = await self.broker.wait(
            await self.broker.open(
                "question",
                screen.dialog,
                options,
                "pane",
                topic="pane",
                request_id=self.broker.adopt("question", options),
                multi_select=question_keys.is_multi_select(screen),
                other=True,
            )
        )
        now = await settled(self.pane)
        if now.state != "question":
            return
        if answer is None:
            log.info("nobody answered Claude's question; declining it")
            await self.pane.send_key("Escape")
            return
        picked = list(answer.options) or ([answer.option] if answer.option else [])
        steps = question_keys.answer_keys(now, picked, answer.text.strip())
        if steps is None:
            log.warning("the answer %r does not fit the question on screen", picked)
            return
        if len(steps) == 1 and not answer.text:
            await choose(self.pane, int(steps[0][1]) - 1)  # one digit: checked and retried
            return
        for kind, value in steps:
            if kind == "paste":
                await self.pane.paste(value)
            else:
                await self.pane.send_key(value)
            await settled(self.pane, quiet=0.25, timeout=2.0)
        log.info("answered Claude's question in the pane: %r %r", picked, answer.text)

    # -- start-up and other dialogs ----------------------------------------------------------

    async def _startup(self, screen: Screen) -> None:
        kind = screen.kind
        if self.startup.accepts(kind):
            index = option_index(screen, ACCEPT_OPTION[kind])
            if index is not None:
                log.info("accepting the %s dialog (configured)", kind)
                await choose(self.pane, index)
                return
        title = STARTUP_TITLES.get(kind, "Claude Code asks")
        await self._ask_options(screen, f"{title}:\n{screen.dialog}", list(screen.options))

    async def _ask_options(self, screen: Screen, text: str, options: list[str]) -> None:
        if not options:
            return
        answer = await self.broker.wait(
            await self.broker.open(
                "question",
                text,
                options,
                "startup",
                topic=screen.kind,
                request_id=self.broker.adopt("question", options),
            )
        )
        if answer is None:
            return  # still on screen: asked again on a later pass
        now = await settled(self.pane)
        index = option_index(now, answer.option)
        if now.state == screen.state and index is not None:
            log.info("answering %s dialog with %r", screen.kind or "a", answer.option)
            await choose(self.pane, index)
