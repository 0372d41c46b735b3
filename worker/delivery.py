"""Typing the queued messages into Claude's box, one at a time, while Claude is idle.

The turn tracker (worker/turns) decides which message is next and what became of it; this
is the hands: fetch the message's files, wait for an idle box, clear what is in it, paste
the exact text, and submit it with the lost-Enter recipe (Enter, confirm by the
UserPromptSubmit hook or an emptied box, else Enter again). Every step that matters is told
to the tracker, which journals the message in flight before the first key, so a worker
killed at any point is followed by one that neither types a message twice nor drops one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from vai.protocol.messages import ChatMessage
from vai.worker import prompt_input
from vai.worker.attachments import AttachmentError, AttachmentStore
from vai.worker.claude_pane import ClaudePane
from vai.worker.screen import read_screen
from vai.worker.session_state import SessionState
from vai.worker.transcript import size_of
from vai.worker.turns.tracker import TurnTracker
from vai.worker.turns.vocabulary import (
    NotSubmitted,
    Submitted,
    TurnEvent,
    Typing,
    Unsendable,
)
from vai.worker.typist import Typist

log = logging.getLogger("worker")

ENTER_ATTEMPTS = 5
# A slash command's output is read once the pane has been still this long (at most SLASH_WAIT).
SLASH_QUIET = 0.6
SLASH_WAIT = 10.0


def prompt_text(message: ChatMessage, files: list[str] | None = None) -> str:
    """The exact text typed for a message: its content, then its saved files' paths."""
    text = prompt_input.prepare(message.content)
    if files:
        listing = "\n".join(files)
        text = f"{text}\n\nAttached files:\n{listing}" if text.strip() else listing
    return text


class TypingPipeline:
    def __init__(
        self,
        *,
        pane: ClaudePane,
        typist: Typist,
        tracker: TurnTracker,
        tell: Callable[[TurnEvent], Awaitable[None]],
        idle: Callable[[], bool],
        attachments: AttachmentStore,
        state: SessionState,
        save: Callable[[], None],
        transcript: Callable[[], Path],
    ) -> None:
        self.pane = pane
        self.typist = typist
        self.tracker = tracker
        self.tell = tell
        self.idle = idle  # Claude announced idle: whatever had to happen first, happened
        self.attachments = attachments
        self.state = state
        self.save = save
        self.transcript = transcript
        self.wakeup = asyncio.Event()
        self.prompt_seen = asyncio.Event()  # UserPromptSubmit for the message being typed
        self._task: asyncio.Task[None] | None = None

    def start(self, on_failure: Callable[[], None]) -> None:
        def ended(task: asyncio.Task[None]) -> None:
            if not task.cancelled() and task.exception() is not None:
                log.error("typing failed", exc_info=task.exception())
                on_failure()

        self._task = asyncio.create_task(self._run())
        self._task.add_done_callback(ended)

    async def stop(self) -> None:
        """Stop typing at whatever step it is; the journal says what may be in Claude."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    def wake(self) -> None:
        self.wakeup.set()

    async def _run(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while self.idle() and self.tracker.next_message() is not None:
                await self.type_next()

    async def type_next(self) -> None:
        message = self.tracker.next_message()
        if message is None:
            return
        saved = self.state.attachments.get(message.message_id)
        try:
            files = await self.attachments.fetch(message, saved)
        except AttachmentError as exc:
            await self.tell(Unsendable(message.message_id, f"attachment not saved: {exc}"))
            return
        if files and files != saved:
            self.state.attachments[message.message_id] = files
            self.save()
        text = prompt_text(message, files)
        if not text.strip():
            await self.tell(Unsendable(message.message_id, "the message has no text to send"))
            return
        screen = await self.pane.wait_screen(lambda s: s.state == "idle", 5.0)
        if screen is None:
            return
        if screen.shell_mode and not await self.typist.leave_shell_mode():
            return
        already_there = (
            bool(screen.input_text)
            and not screen.box_scrolled
            and not screen.has_pasted_reference
            and prompt_input.same_prompt(screen.input_text, text)
        )
        if screen.input_text and not already_there and not await self.typist.clear_input():
            return
        self.prompt_seen.clear()
        # Journaled before the first key: a new worker must know what may be in Claude.
        await self.tell(Typing(message.message_id, text, size_of(self.transcript())))
        if already_there:
            # A previous worker pasted it and died before Enter: submit what is there.
            log.info("message %d is already in the input box", message.message_id)
        elif not await self.typist.put_in_box(text, f"message {message.message_id}"):
            await self.typist.clear_input()
            await self.tell(NotSubmitted(message.message_id, "was not pasted"))
            return
        if await self.submit(text):
            pane = ""
            if prompt_input.is_slash_command(text) and not self.prompt_seen.is_set():
                pane = await self.settled_pane()  # what the CLI printed for it
            await self.tell(Submitted(message.message_id, pane))
            return
        why = f"was not submitted after {ENTER_ATTEMPTS} Enters"
        await self.tell(NotSubmitted(message.message_id, why))

    async def settled_pane(self, quiet: float = SLASH_QUIET, limit: float = SLASH_WAIT) -> str:
        """The pane once it shows the box (or a dialog) again and stopped changing for
        `quiet` seconds, or as it is after `limit` (/clear redraws everything, its hooks
        running meanwhile)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        last = await self.pane.lines()
        since = loop.time()
        while loop.time() < deadline:
            await asyncio.sleep(0.1)
            lines = await self.pane.lines()
            if lines != last:
                last, since = lines, loop.time()
            elif loop.time() - since >= quiet and read_screen("\n".join(last)).state != "starting":
                break
        return "\n".join(last)

    async def submit(self, text: str) -> bool:
        """The lost-Enter recipe: Enter, confirm by hook (or an emptied box), else Enter again."""
        for attempt in range(1, ENTER_ATTEMPTS + 1):
            await self.pane.send_key("Enter")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.prompt_seen.wait(), 0.2 * attempt)
                return True
            screen = await self.pane.screen()
            slash = prompt_input.is_slash_command(text)
            if screen.state == "idle" and not screen.input_text and slash:
                return True
            if screen.state != "idle" or not screen.input_text:
                # Claude took it; the hook is on its way.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.prompt_seen.wait(), 10.0)
                    return True
                return screen.state != "idle"
            log.info("Enter not taken (attempt %d); sending it again", attempt)
        return False
