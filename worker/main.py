"""The worker process: one per session, between the supervisor and Claude's pane.

It owns the pane's input: messages from the supervisor wait in its queue and are typed one
at a time when Claude is idle; hook events tell it what Claude did and go upstream. What
it must not forget if it is killed (the message in flight, unacknowledged turn ends) is in
the session's journal, so the next worker neither types a message twice nor drops one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, assert_never

import zmq.asyncio

from vai.common.bus import dealer_socket, send
from vai.common.exit_codes import EXIT_NO_PANE, EXIT_NOT_READY, EXIT_USAGE
from vai.common.logs import setup_logging
from vai.common.tasks import Background
from vai.common.tmux import TmuxError
from vai.protocol.codec import ProtocolError
from vai.protocol.framing import parse_single, worker_identity
from vai.protocol.layout import ipc_endpoint
from vai.protocol.links import TO_WORKER, WorkerToSupervisor
from vai.protocol.messages import (
    ChatMessage,
    ChoiceAnswer,
    ClaudeState,
    ClaudeStatus,
    Deliver,
    DeliveryUpdate,
    Heartbeat,
    Interrupt,
    PromptStage,
    Shutdown,
    ToolProgress,
    TurnAck,
    TurnEnded,
    WorkerHello,
)
from vai.protocol.specs import WORKER_SPEC_ENV, WorkerSpec, decode_spec
from vai.worker import prompt_input, session_lock
from vai.worker.asking import HookAsks
from vai.worker.attachments import AttachmentError, AttachmentStore, attachment_limits
from vai.worker.attention import Attention
from vai.worker.choices import ChoiceBroker
from vai.worker.claude_pane import ClaudePane
from vai.worker.dialogs import StartupAnswers, settled
from vai.worker.hook_events import HookEvent
from vai.worker.hook_server import HookServer
from vai.worker.prompt_queue import PromptQueue
from vai.worker.screen import Screen
from vai.worker.session_state import InFlight, StateFile
from vai.worker.tool_hooks import ASK_TOOL, tool_summary
from vai.worker.transcript import answer_after, holds_prompt, size_of
from vai.worker.typist import Typist

log = logging.getLogger("worker")

# Missing supervisor heartbeats tolerated before the worker concludes it was orphaned.
SUPERVISOR_LIVENESS = 5
ENTER_ATTEMPTS = 5
RESEND_TURNS_EVERY = 1.0
WATCH_EVERY = 0.5
# Claude's screen idle this long while a turn seemed under way: the turn ended without a
# Stop hook (interrupted or denied in the terminal; the CLI fires no Stop for those).
TURN_ENDED_QUIETLY = 3.0
CLEAN_ATTACHMENTS_EVERY = 3600.0
# Choices a dead worker left open are adopted if their dialog shows again by then.
ORPHAN_GRACE = 10.0
INTERRUPTED = "⏹️ Interrupted: Claude stopped this turn."
ACTIVE = ("busy", "permission", "question")  # a turn is under way
TURN_DRAWN = 3.0  # seconds for Claude to draw a turn whose prompt it took
STAYS_STOPPED = 0.5  # seconds a stopped turn must stay stopped to count
# Claude runs its Stop hooks before it redraws idle: a busy frame after a Stop and before
# the first idle one is the old turn's (a new turn says so with UserPromptSubmit), for at
# most this long (a Stop hook that blocks the stop makes Claude carry on).
STOP_REDRAW = 10.0
DENIED = "🚫 Permission denied: Claude stopped this turn."


def prompt_text(message: ChatMessage, files: list[str] | None = None) -> str:
    """The exact text typed for a message: its content, then its saved files' paths."""
    text = prompt_input.prepare(message.content)
    if files:
        listing = "\n".join(files)
        text = f"{text}\n\nAttached files:\n{listing}" if text.strip() else listing
    return text


_same_prompt = prompt_input.same_prompt


def _active(screen: Screen) -> bool:
    return screen.state in ACTIVE


class Worker:
    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.pane = ClaudePane(spec)
        self.typist = Typist(self.pane)
        self.state_file = StateFile(spec.layout.session_state(spec.session))
        self.state = self.state_file.load()
        self.queue = PromptQueue()
        self.queue.restore(
            self.state.in_flight,
            [i for turn in self.state.unacked_turns for i in turn.message_ids],
        )
        self.claude: ClaudeState = "starting"
        self.context = zmq.asyncio.Context()
        self.bus = dealer_socket(
            self.context, ipc_endpoint(spec.layout.bus_socket), worker_identity(spec.session)
        )
        self.hooks = HookServer(
            spec.layout.hook_socket(spec.session),
            spec.layout.hook_spool(spec.session),
            self.on_hook,
        )
        self.wakeup = asyncio.Event()
        self.stopping = asyncio.Event()
        self.stop_claude = False
        self._prompt_seen = asyncio.Event()
        self._typing: asyncio.Task[None] | None = None
        self._supervisor_seen = time.monotonic()
        self.choices = ChoiceBroker(spec.session, self.send, spec.choice_timeout, self.save)
        self.choices.orphans = list(self.state.open_choices)
        self.asks = HookAsks(self.choices, lambda: self.claude, self.set_claude)
        self.attention = Attention(
            self.pane,
            self.choices,
            StartupAnswers(
                trust_work_dir=spec.trust_work_dir,
                approve_api_key=spec.approve_api_key,
                accept_bypass_permissions=spec.accept_bypass_permissions,
            ),
            self.pane_denied,
        )
        self.attachments = AttachmentStore(
            spec.layout.session_attachments(spec.session),
            spec.layout.run_dir / "attachment-slots",
            attachment_limits(spec),
        )
        self._turn_id = ""  # the prompt_id of the turn under way (tool progress names it)
        self._idle_since: float | None = None
        self._interrupting = asyncio.Lock()
        self.background = Background(log)
        self._started = time.monotonic()
        self._stopped_at = float("-inf")

    # -- main --------------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        self.prepare_attachments()
        await self.hooks.start()
        created = await self.pane.open(self.state)
        log.info("%s tmux session %s", "created" if created else "adopted", self.pane.name)
        if not created and (await self.pane.info()).dead:
            log.info("Claude's pane is dead; starting Claude again")
            await self.pane.respawn(self.state)
        self.save()
        await self.send(WorkerHello(session=self.spec.session, pid=os.getpid(), ready=False))
        # Turns a previous worker ended are older than anything spooled: they go first.
        await self.send_unacked_turns()
        # Events Claude fired while no worker listened come next, in order.
        replayed = await self.hooks.replay_spool()
        if replayed:
            log.info("replayed %d spooled hook events", replayed)
        tasks = [
            asyncio.create_task(self.receive_loop()),
            asyncio.create_task(self.heartbeat_loop()),
        ]
        try:
            if not await self.wait_until_ready():
                return EXIT_NOT_READY
            await self.reconcile_in_flight()
            await self.send(
                WorkerHello(
                    session=self.spec.session, pid=os.getpid(), ready=True, claude_state=self.claude
                )
            )
            self.start_typing()
            tasks += [
                asyncio.create_task(self.pane_watch_loop()),
                asyncio.create_task(self.resend_turns_loop()),
                asyncio.create_task(self.clean_attachments_loop()),
            ]
            stop = asyncio.create_task(self.stopping.wait())
            closed = asyncio.create_task(self.pane.control.closed.wait())
            await asyncio.wait([stop, closed, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            return 0 if self.stopping.is_set() else 1
        finally:
            await self.stop_typing()
            await self.attention.close()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, self.background.cancel_all(), return_exceptions=True)
            await self.pane.close(stop_claude=self.stop_claude)
            await self.hooks.close()
            self.bus.close(linger=0)
            self.context.term()

    async def wait_until_ready(self) -> bool:
        """Wait for Claude's screen; give up at once if Claude exits (a restart storm must
        reach the supervisor's backoff quickly, not after the ready timeout)."""
        deadline = time.monotonic() + self.spec.ready_timeout
        while True:
            screen = await self.pane.wait_screen(
                lambda s: s.state in ("idle", "busy", "permission", "question", "dialog"),
                min(1.0, max(0.0, deadline - time.monotonic())),
            )
            if screen is not None:
                break
            if (await self.pane.info()).dead:
                last = [line for line in await self.pane.lines() if line.strip()][-5:]
                log.error("Claude exited at start: %s", " | ".join(last) or "no output")
                return False
            if time.monotonic() >= deadline:
                return False
        await self.set_claude(screen.state)
        if screen.state == "dialog":
            log.warning(
                "Claude shows a %s dialog at start: %s",
                screen.kind,
                screen.dialog.replace("\n", " | "),
            )
        return True

    # -- the journal -----------------------------------------------------------------------------

    def save(self) -> None:
        self.state.in_flight = self.queue.current
        self.state.open_choices = self.choices.open_requests()
        self.state_file.save(self.state)

    def transcript(self) -> Path:
        return self.pane.transcript(self.state)

    def held(self, in_flight: InFlight) -> bool:
        """Does Claude's conversation durably hold this prompt?"""
        return holds_prompt(self.transcript(), in_flight.transcript_offset, in_flight.text)

    async def reconcile_in_flight(self) -> None:
        """After a worker or Claude restart: finish, wait for, or retype the message in flight.

        Claude busy (or asking for a permission or an answer): a turn is running; its Stop
        decides (by the transcript) whether it was this message's. Claude idle: the
        transcript decides. Held means delivered, even if the turn was cut off; not held
        means Claude never had it (even if UserPromptSubmit fired), so it is typed again.
        """
        current = self.queue.current
        if current is None or self.claude in ("busy", "permission", "question"):
            return  # a turn is under way: its end (Stop, or a quiet end) decides
        if self.held(current):
            log.warning(
                "message %d was taken by Claude but its turn never ended",
                current.message.message_id,
            )
            await self.end_turn(text="", interrupted=True)
        else:
            log.info("message %d did not reach Claude; typing it again", current.message.message_id)
            self.queue.retry()
            self.save()
        self.wakeup.set()

    # -- supervisor link -----------------------------------------------------------------------

    async def send(self, message: WorkerToSupervisor) -> None:
        await send(self.bus, message)

    async def receive_loop(self) -> None:
        while True:
            frames = await self.bus.recv_multipart()
            self._supervisor_seen = time.monotonic()
            try:
                message = parse_single(frames, TO_WORKER)
            except ProtocolError as exc:
                log.warning("dropped a malformed frame from the supervisor: %s", exc)
                continue
            match message:
                case Deliver(message=chat):
                    if self.queue.offer(chat):
                        log.info("queued message %d (%d waiting)", chat.message_id, len(self.queue))
                        self.attachments.prefetch(chat, self.state.attachments)
                        self.wakeup.set()
                case TurnAck(turn_id=turn_id):
                    before = len(self.state.unacked_turns)
                    self.state.unacked_turns = [
                        t for t in self.state.unacked_turns if t.turn_id != turn_id
                    ]
                    if len(self.state.unacked_turns) != before:
                        self.save()
                case Interrupt():
                    self.spawn(self.interrupt())
                case ChoiceAnswer():
                    self.choices.answer(message)
                case Shutdown(stop_claude=stop_claude):
                    self.stop_claude = stop_claude
                    self.stopping.set()
                case Heartbeat():
                    pass
                case _:
                    assert_never(message)

    async def heartbeat_loop(self) -> None:
        interval = self.spec.heartbeat_interval
        while True:
            await self.send(Heartbeat(pid=os.getpid()))
            await asyncio.sleep(interval)
            silent = time.monotonic() - self._supervisor_seen
            if silent > interval * SUPERVISOR_LIVENESS:
                log.error("no word from the supervisor for %.1fs; exiting", silent)
                self.stopping.set()
                return

    async def send_unacked_turns(self) -> None:
        """All unacknowledged turn ends, oldest first (the supervisor posts in arrival order)."""
        for turn in list(self.state.unacked_turns):
            await self.send(turn)

    async def resend_turns_loop(self) -> None:
        """Turn ends are the one message the worker must not lose: resend until acked."""
        while True:
            await asyncio.sleep(RESEND_TURNS_EVERY)
            await self.send_unacked_turns()

    async def update(self, message: ChatMessage, stage: PromptStage, detail: str = "") -> None:
        await self.send(
            DeliveryUpdate(
                session=self.spec.session, message_id=message.message_id, stage=stage, detail=detail
            )
        )

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self.background.spawn(work)

    async def set_claude(self, state: ClaudeState, pane_pid: int | None = None) -> None:
        if state != self.claude:
            log.info("claude %s -> %s", self.claude, state)
            self.claude = state
            await self.send(ClaudeStatus(session=self.spec.session, state=state, pane_pid=pane_pid))
            self.wakeup.set()

    async def end_turn(self, text: str, interrupted: bool = False, turn_id: str = "") -> None:
        """Record a turn's end durably, then tell the supervisor (resent until acked)."""
        done = self.queue.finish()
        if done is not None:
            self.forget_attachments(done.message.message_id)
        turn = TurnEnded(
            session=self.spec.session,
            turn_id=turn_id or str(uuid.uuid4()),
            text=text,
            message_ids=[done.message.message_id] if done is not None else [],
            interrupted=interrupted,
        )
        self.state.unacked_turns.append(turn)
        self.save()
        await self.send_unacked_turns()

    # -- typing --------------------------------------------------------------------------------

    def start_typing(self) -> None:
        self._typing = asyncio.create_task(self.typing_loop())
        self._typing.add_done_callback(self._typing_ended)

    def _typing_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("typing failed", exc_info=task.exception())
            self.stopping.set()

    async def stop_typing(self) -> None:
        """Stop typing at whatever step it is; the journal says what may be in Claude."""
        if self._typing is not None:
            self._typing.cancel()
            await asyncio.gather(self._typing, return_exceptions=True)
            self._typing = None

    async def typing_loop(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while self.claude == "idle" and self.queue.peek() is not None:
                await self.type_next()

    async def type_next(self) -> None:
        message = self.queue.peek()
        if message is None:
            return
        saved = self.state.attachments.get(message.message_id)
        try:
            files = await self.attachments.fetch(message, saved)
        except AttachmentError as exc:
            await self.fail(message, f"attachment not saved: {exc}")
            return
        if files and files != saved:
            self.state.attachments[message.message_id] = files
            self.save()
        text = prompt_text(message, files)
        if not text.strip():
            await self.fail(message, "the message has no text to send")
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
            and _same_prompt(screen.input_text, text)
        )
        if screen.input_text and not already_there and not await self.typist.clear_input():
            return
        in_flight = self.queue.take(text, size_of(self.transcript()))
        assert in_flight is not None
        self.save()  # before the first key: a new worker must know what may be in Claude
        self._prompt_seen.clear()
        if already_there:
            # A previous worker pasted it and died before Enter: submit what is there.
            log.info("message %d is already in the input box", message.message_id)
        elif not await self.typist.put_in_box(text, f"message {message.message_id}"):
            await self.typist.clear_input()
            self.queue.retry()
            self.save()
            return
        if await self.submit(text):
            if prompt_input.is_slash_command(text) and not self._prompt_seen.is_set():
                # A slash command Claude ran itself: no model turn, no Stop.
                self.queue.finish()
                self.forget_attachments(message.message_id)
                self.save()
                await self.update(message, "done", "slash command")
            return
        log.warning(
            "message %d was not submitted after %d Enters", message.message_id, ENTER_ATTEMPTS
        )
        self.queue.retry()
        self.save()

    async def fail(self, message: ChatMessage, reason: str) -> None:
        """The message cannot be typed: it is done, and the channel is told why."""
        log.warning("message %d failed: %s", message.message_id, reason)
        self.queue.take("", 0)
        self.queue.finish()
        self.forget_attachments(message.message_id)
        self.save()
        await self.update(message, "failed", reason)

    async def submit(self, text: str) -> bool:
        """The lost-Enter recipe: Enter, confirm by hook (or an emptied box), else Enter again."""
        for attempt in range(1, ENTER_ATTEMPTS + 1):
            await self.pane.send_key("Enter")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._prompt_seen.wait(), 0.2 * attempt)
                return True
            screen = await self.pane.screen()
            slash = prompt_input.is_slash_command(text)
            if screen.state == "idle" and not screen.input_text and slash:
                return True
            if screen.state != "idle" or not screen.input_text:
                # Claude took it; the hook is on its way.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._prompt_seen.wait(), 10.0)
                    return True
                return screen.state != "idle"
            log.info("Enter not taken (attempt %d); sending it again", attempt)
        return False

    # -- hooks ---------------------------------------------------------------------------------

    async def on_hook(self, event: HookEvent, live: bool) -> bytes:
        name = event.hook_event_name
        if name == "SessionStart" and event.session_id:
            if (event.session_id, event.transcript_path) != (
                self.state.conversation_id,
                self.state.transcript_path,
            ):
                self.state.conversation_id = event.session_id
                self.state.transcript_path = event.transcript_path
                self.save()
                log.info("conversation is now %s (%s)", event.session_id, event.source)
        elif name == "UserPromptSubmit":
            self._turn_id = event.prompt_id or str(uuid.uuid4())
            await self.set_claude("busy")
            current = self.queue.current
            if current is not None and _same_prompt(current.text, event.prompt):
                if not current.submitted:
                    current.submitted = True
                    self.save()
                    await self.update(current.message, "accepted")
                self._prompt_seen.set()
            else:
                log.info("a prompt typed in the pane by hand started a turn")
        elif name == "Stop":
            self._stopped_at = time.monotonic()
            self.choices.cancel(reason="the turn ended")
            current = self.queue.current
            if current is not None and not (current.submitted or self.held(current)):
                log.info("a turn ended that was not message %d's", current.message.message_id)
                self.state.unacked_turns.append(
                    TurnEnded(
                        session=self.spec.session,
                        turn_id=event.prompt_id or str(uuid.uuid4()),
                        text=event.last_assistant_message or "",
                    )
                )
                self.save()
                await self.send_unacked_turns()
            else:
                await self.end_turn(event.last_assistant_message or "", turn_id=event.prompt_id)
            await self.set_claude("idle")
        elif name in ("PreToolUse", "PostToolUse"):
            return await self.on_tool(event, live)
        elif name == "PermissionRequest" and live:
            return await self.asks.permission(event)
        return b""

    async def on_tool(self, event: HookEvent, live: bool) -> bytes:
        """Progress upstream; an AskUserQuestion call is answered from the channel."""
        done = event.hook_event_name == "PostToolUse"
        await self.send(
            ToolProgress(
                session=self.spec.session,
                turn_id=event.prompt_id or self._turn_id,
                tool_name=event.tool_name,
                summary=tool_summary(event.tool_name, event.tool_input),
                done=done,
            )
        )
        if done or not live or event.tool_name != ASK_TOOL:
            return b""
        return await self.asks.questions(event)

    # -- turns that end without a Stop hook ---------------------------------------------------

    async def end_without_stop(
        self, target: InFlight | None, text: str, screen_text: str = ""
    ) -> None:
        """End the message in flight whose turn stopped with no Stop hook (Escape, a
        denial in the pane). The CLI may have put its prompt back in the box: cleared."""
        if screen_text and target is not None and _same_prompt(screen_text, target.text):
            await self.typist.clear_input()
        if target is not None and self.queue.current is target and target.submitted:
            partial = answer_after(self.transcript(), target.transcript_offset)
            await self.end_turn(f"{partial}\n\n{text}" if partial else text, interrupted=True)
        self._idle_since = None
        await self.set_claude("idle")

    async def interrupt(self) -> None:
        """Escape on request: the turn stops, and its message ends as interrupted.

        Claude drops an Escape that comes before it has drawn the turn (its prompt is
        taken, the box still shows it) and carries on, so Escape waits for the busy
        screen, and the stop counts only once Claude stays stopped.
        """
        async with self._interrupting:
            target = self.queue.current
            screen = await self.pane.screen()
            if screen.state not in ACTIVE and self.claude in ACTIVE:
                screen = await self.pane.wait_screen(_active, TURN_DRAWN) or screen
            if screen.state not in ACTIVE:
                log.info("interrupt: Claude is %s, nothing to interrupt", screen.state)
                return
            log.info("interrupting Claude (Escape)")
            after = None
            for attempt in range(4):
                if screen.state in ("permission", "question"):
                    await settled(self.pane, quiet=0.3)  # a fresh dialog drops keys
                await self.pane.send_key("Escape")
                after = await self.pane.wait_screen(lambda s: not _active(s), 1.0)
                if after is not None:
                    relapse = await self.pane.wait_screen(_active, STAYS_STOPPED)
                    if relapse is None:
                        after = await self.pane.screen()  # the prompt may be back in the box
                        break
                    log.info("Claude carried on after Escape; pressing it again")
                    screen, after = relapse, None
                    continue
                if attempt == 1:
                    # A question held in its PreToolUse hook holds Claude too: let it go.
                    self.choices.cancel(("question",), reason="interrupted")
                screen = await self.pane.screen()
            self.choices.cancel(reason="interrupted")
            if after is None:
                log.warning("Claude did not stop after Escape")
                return
            await self.end_without_stop(target, INTERRUPTED, after.input_text)

    async def pane_denied(self) -> None:
        """A permission denied in the pane ends the turn without a Stop hook (real CLI)."""
        target = self.queue.current
        after = await self.pane.wait_screen(lambda s: s.state == "idle", 5.0)
        if after is not None and self.queue.current is target:
            await self.end_without_stop(target, DENIED, after.input_text)

    async def turn_ended_quietly(self, screen: Screen) -> None:
        """Claude has been idle for a while, yet a turn seemed under way and no Stop came."""
        self._idle_since = None
        current = self.queue.current
        if current is None:
            await self.set_claude("idle")
            return
        if screen.input_text and _same_prompt(screen.input_text, current.text):
            log.warning("message %d was interrupted in the terminal", current.message.message_id)
            await self.end_without_stop(current, INTERRUPTED, screen.input_text)
            return
        if self.held(current):
            log.warning("message %d's turn ended without a Stop hook", current.message.message_id)
            answer = answer_after(self.transcript(), current.transcript_offset)
            await self.end_turn(answer, interrupted=True)
        else:
            log.info(
                "message %d is not in the conversation; typing it again", current.message.message_id
            )
            self.queue.retry()
            self.save()
        await self.set_claude("idle")

    # -- pane health ---------------------------------------------------------------------------

    async def pane_watch_loop(self) -> None:
        last_seq, last_read = -1, 0.0
        while True:
            await asyncio.sleep(WATCH_EVERY)
            if self.spec.layout.hook_spool(self.spec.session).exists():
                # A hook client that found no worker listening, just before this one did.
                await self.hooks.replay_spool()
            info = await self.pane.info()
            if info.dead:
                log.warning("Claude exited; restarting it in the same pane")
                # Nothing may be typed into the new Claude until the journal and the
                # transcript have said what the old one took.
                await self.stop_typing()
                await self.attention.close()
                self.choices.cancel(reason="Claude exited")
                await self.set_claude("dead", info.pid)
                await self.pane.respawn(self.state)
                self.save()
                if not await self.wait_until_ready():
                    log.error("Claude did not come back")
                    return
                await self.reconcile_in_flight()
                self.start_typing()
                continue
            now = time.monotonic()
            seq = self.pane.control.output_seq
            if seq == last_seq and now - last_read < 1.0:
                continue
            last_seq, last_read = seq, now
            await self.follow_screen(await self.pane.screen(), now)

    def _old_turn_frame(self, now: float) -> bool:
        return self.claude == "idle" and now - self._stopped_at < STOP_REDRAW

    async def follow_screen(self, screen: Screen, now: float) -> None:
        """Keep the Claude state in step with the screen, and get dialogs answered."""
        if screen.state == "idle":
            self._stopped_at = float("-inf")  # Claude has redrawn since the Stop
        self.attention.check(screen)
        if now - self._started >= ORPHAN_GRACE:
            self.choices.drop_orphans()
        hook_wait = self.choices.pending(source="hook")
        if hook_wait is not None:
            await self.set_claude(hook_wait.request.kind)
        elif screen.state in ("permission", "question", "dialog"):
            await self.set_claude(screen.state)
        elif screen.state == "busy" and not self._old_turn_frame(now):
            await self.set_claude("busy")
        if screen.state != "idle" or hook_wait is not None:
            self._idle_since = None
            return
        if self.claude in ("permission", "question", "dialog", "starting"):
            current = self.queue.current
            await self.set_claude("busy" if current is not None and current.submitted else "idle")
        if self.claude != "busy" or self.attention.busy or self._interrupting.locked():
            self._idle_since = None
            return
        if self._idle_since is None:
            self._idle_since = now
        elif now - self._idle_since >= TURN_ENDED_QUIETLY:
            await self.turn_ended_quietly(screen)

    # -- attachments -------------------------------------------------------------------------

    def prepare_attachments(self) -> None:
        flat = self.spec.layout.attachments_dir if self.spec.session == 1 else None
        self.attachments.start(self.attachments_in_use(), migrate_from=flat)

    def attachments_in_use(self) -> list[str]:
        return [path for paths in self.state.attachments.values() for path in paths]

    def forget_attachments(self, message_id: int) -> None:
        self.attachments.forget(message_id)
        self.state.attachments.pop(message_id, None)

    async def clean_attachments_loop(self) -> None:
        await self.attachments.clean_every(CLEAN_ATTACHMENTS_EVERY, self.attachments_in_use)


def main() -> int:
    raw = os.environ.get(WORKER_SPEC_ENV)
    if not raw:
        print(
            f"worker: {WORKER_SPEC_ENV} is not set (the supervisor starts workers)", file=sys.stderr
        )
        return EXIT_USAGE
    spec = decode_spec(raw, WorkerSpec)
    setup_logging(f"session={spec.session}", log_file=spec.layout.session_log(spec.session))
    try:
        # Before the journal is read: a leftover worker of this session must be gone.
        lock = session_lock.take(spec.layout.run_dir / f"worker-{spec.session}.lock", spec.session)
    except TimeoutError as exc:
        log.error("%s", exc)
        return EXIT_NO_PANE
    try:
        return asyncio.run(Worker(spec).run())
    except TmuxError as exc:
        log.error("tmux: %s", exc)
        return EXIT_NO_PANE
    finally:
        os.close(lock)


if __name__ == "__main__":
    sys.exit(main())
