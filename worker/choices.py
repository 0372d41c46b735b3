"""Decisions the channel makes for Claude: permission prompts, questions, start-up dialogs.

A choice is a ChoiceRequest sent upstream (the supervisor addresses it to the session's
channel; the gateway shows buttons) and a future that the ChoiceAnswer routed back
resolves. Whoever asked waits for it with the configured timeout; an expired, cancelled
or unanswerable choice resolves to None, which every caller treats as "no" (deny).

Open choices are written to the session's journal, so a worker that replaces a dead one
can adopt the same request (same id: the button already in the channel still works)
when it finds the same kind of dialog on the screen.

Each request names the person it waits for (`person_waited_for`), so the channel can
notify them: the author of the message whose turn asks, or, for a start-up dialog before
any turn, the author of the message waiting to be typed.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal, Protocol

from vai.protocol.links import WorkerToSupervisor
from vai.protocol.messages import ChatMessage, ChoiceAnswer, ChoiceRequest, ChoiceWithdrawn
from vai.worker.session_state import InFlight

log = logging.getLogger("worker.choices")

Kind = Literal["permission", "question"]
Source = Literal["hook", "pane", "startup"]
# Claude's hook commands run with a 600 s timeout (worker/claude_pane.py): a choice
# answered through a hook must be decided well before Claude gives up on the hook.
MAX_TIMEOUT = 540.0


@dataclass
class Pending:
    request: ChoiceRequest
    source: Source
    future: asyncio.Future[ChoiceAnswer | None] = field(repr=False)
    topic: str = ""  # what it is about (a tool_use_id, a dialog kind), for matching
    withdrawn: str = ""  # why it was cancelled (the channel is told when the wait ends)

    @property
    def request_id(self) -> str:
        return self.request.request_id


def person_waited_for(
    source: Source, in_flight: InFlight | None, waiting: ChatMessage | None
) -> int:
    """Whom a choice asked from `source` waits for (0: nobody): the author of the message
    in flight; for a start-up dialog before any turn, the author of the next message. A
    prompt or question in a turn no Discord message started waits for nobody in particular,
    and a bot is never named."""
    message = in_flight.message if in_flight is not None else None
    if message is None and source == "startup":
        message = waiting
    if message is None or message.author.bot:
        return 0
    return message.author.id


class _Queue(Protocol):
    def next(self) -> ChatMessage | None: ...


class Turns(Protocol):
    """What the turn tracker knows of the messages (worker/turns/tracker.py)."""

    @property
    def in_flight(self) -> InFlight | None: ...

    @property
    def messages(self) -> _Queue: ...


def waited_for_in(turns: Turns) -> Callable[[Source], int]:
    """`person_waited_for`, asked of the tracker each time a request is made."""
    return lambda source: person_waited_for(source, turns.in_flight, turns.messages.next())


def answer_problem(request: ChoiceRequest, answer: ChoiceAnswer) -> str:
    """Why an answer does not fit its request ('' when it does): only its own options,
    several only for a multi-select request, free text only where "Other…" was offered."""
    picked = list(answer.options) or ([answer.option] if answer.option else [])
    strangers = [option for option in picked if option not in request.options]
    if strangers:
        return f"{strangers!r} not among the options"
    if len(picked) > 1 and not request.multi_select:
        return "several options for a single choice"
    if len(set(picked)) != len(picked):
        return "an option picked twice"
    if answer.text and not request.other:
        return "free text where none was offered"
    return ""


class ChoiceBroker:
    def __init__(
        self,
        session: int,
        send: Callable[[WorkerToSupervisor], Awaitable[None]],
        timeout: float,
        on_change: Callable[[], None] = lambda: None,
        waited_for: Callable[[Source], int] = lambda source: 0,
    ) -> None:
        self.session = session
        self._waited_for = waited_for  # whom a new request names (person_waited_for)
        self._send = send
        self.timeout = max(1.0, min(timeout, MAX_TIMEOUT))
        self._on_change = on_change  # the journal is saved when the open set changes
        self._pending: dict[str, Pending] = {}
        self.orphans: list[ChoiceRequest] = []  # open when a previous worker died
        self.closed_at: dict[str, float] = {}  # kind -> when one was last answered or closed

    # -- asking ------------------------------------------------------------------------------

    async def open(
        self,
        kind: Kind,
        text: str,
        options: list[str],
        source: Source,
        *,
        topic: str = "",
        request_id: str = "",
        multi_select: bool = False,
        other: bool = False,
    ) -> Pending:
        """Send a request (or re-send an adopted one) and return its pending entry."""
        request = ChoiceRequest(
            request_id=request_id or f"s{self.session}-{uuid.uuid4().hex[:12]}",
            session=self.session,
            kind=kind,
            text=text,
            options=options,
            timeout_s=self.timeout,
            multi_select=multi_select,
            other=other,
            mention_user_id=self._waited_for(source),
        )
        future: asyncio.Future[ChoiceAnswer | None] = asyncio.get_running_loop().create_future()
        pending = Pending(request, source, future, topic)
        self._pending[request.request_id] = pending
        self._on_change()
        log.info("asking the channel (%s, %s): %s", kind, request.request_id, options)
        await self._send(request)
        return pending

    async def wait(self, pending: Pending) -> ChoiceAnswer | None:
        """The answer, or None when it expired or was cancelled (then the channel is told,
        so its buttons close and nobody is reminded of it)."""
        try:
            answer = await asyncio.wait_for(asyncio.shield(pending.future), self.timeout)
        except TimeoutError:
            log.info("choice %s expired after %.0fs", pending.request_id, self.timeout)
            return None
        finally:
            self._close(pending)
        if pending.withdrawn:
            await self._withdraw(pending.request, pending.withdrawn)
        return answer

    async def ask(
        self,
        kind: Kind,
        text: str,
        options: list[str],
        source: Source,
        topic: str = "",
        *,
        multi_select: bool = False,
        other: bool = False,
    ) -> ChoiceAnswer | None:
        pending = await self.open(
            kind, text, options, source, topic=topic, multi_select=multi_select, other=other
        )
        return await self.wait(pending)

    # -- answers -----------------------------------------------------------------------------

    def answer(self, answer: ChoiceAnswer) -> bool:
        """Resolve a pending choice; False for unknown or closed ones."""
        pending = self._pending.get(answer.request_id)
        if pending is None or pending.future.done():
            log.info("answer to %s ignored: no such open choice", answer.request_id)
            return False
        problem = answer_problem(pending.request, answer)
        if problem:
            log.warning("answer to %s refused: %s", answer.request_id, problem)
            return False
        log.info(
            "choice %s answered %r by %s",
            answer.request_id,
            answer.text or answer.options or answer.option or "(expired)",
            answer.user_name or answer.user_id or "nobody",
        )
        pending.future.set_result(answer if answer.answered else None)
        return True

    def cancel(self, kinds: tuple[Kind, ...] = ("permission", "question"), reason: str = "") -> int:
        """Resolve open choices of these kinds as unanswered (the dialog went away)."""
        count = 0
        for pending in list(self._pending.values()):
            if pending.request.kind in kinds and not pending.future.done():
                pending.withdrawn = reason or "no longer asked"
                pending.future.set_result(None)
                count += 1
        if count:
            log.info("cancelled %d open choice(s): %s", count, reason or "no longer asked")
        return count

    # -- what is open ------------------------------------------------------------------------

    def pending(self, kind: Kind | None = None, source: Source | None = None) -> Pending | None:
        for pending in self._pending.values():
            if (kind is None or pending.request.kind == kind) and (
                source is None or pending.source == source
            ):
                return pending
        return None

    def open_requests(self) -> list[ChoiceRequest]:
        """For the journal: what is open now, and orphans not yet adopted or dropped."""
        return [p.request for p in self._pending.values()] + list(self.orphans)

    def adopt(self, kind: Kind, options: list[str]) -> str:
        """The id of an orphan of this kind and options (a dead worker's request), or ''."""
        for orphan in self.orphans:
            if orphan.kind == kind and list(orphan.options) == options:
                self.orphans.remove(orphan)
                return orphan.request_id
        return ""

    async def drop_orphans(self) -> None:
        if self.orphans:
            log.info("dropping %d unanswered choice(s) of a previous worker", len(self.orphans))
            dropped, self.orphans = self.orphans, []
            self._on_change()
            for request in dropped:
                await self._withdraw(request, "no longer on Claude's screen")

    async def _withdraw(self, request: ChoiceRequest, reason: str) -> None:
        withdrawn = ChoiceWithdrawn(
            request_id=request.request_id, session=self.session, reason=reason
        )
        await self._send(withdrawn)

    def _close(self, pending: Pending) -> None:
        if self._pending.pop(pending.request_id, None) is not None:
            self.closed_at[pending.request.kind] = time.monotonic()
            self._on_change()
