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
from pathlib import Path

import zmq.asyncio

from protocol.codec import ProtocolError
from protocol.framing import dealer_socket, parse_single, send, worker_identity
from protocol.layout import ipc_endpoint
from protocol.messages import (
    ChatMessage,
    ClaudeState,
    ClaudeStatus,
    Deliver,
    DeliveryUpdate,
    Heartbeat,
    Interrupt,
    PromptStage,
    Shutdown,
    TurnAck,
    TurnEnded,
    WireMessage,
    WorkerHello,
)
from protocol.text import sanitize_prompt
from supervisor.logs import setup_logging
from worker.claude_pane import ClaudePane
from worker.hook_events import HookEvent
from worker.hook_server import HookServer
from worker.prompt_queue import PromptQueue
from worker.session_state import InFlight, StateFile
from worker.spec import SPEC_ENV, WorkerSpec, decode_spec
from worker.tmux_control import TmuxError
from worker.transcript import holds_prompt, size_of

log = logging.getLogger("worker")

# Missing supervisor heartbeats tolerated before the worker concludes it was orphaned.
SUPERVISOR_LIVENESS = 5
ENTER_ATTEMPTS = 5
RESEND_TURNS_EVERY = 1.0


def prompt_text(message: ChatMessage) -> str:
    return sanitize_prompt(message.content)


def _same_prompt(typed: str, seen: str) -> bool:
    return " ".join(typed.split()) == " ".join(seen.split())


class Worker:
    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.pane = ClaudePane(spec)
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

    # -- main --------------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        self.spec.layout.session_attachments(self.spec.session).mkdir(
            mode=0o700, parents=True, exist_ok=True
        )
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
                return 2
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
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
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
                lambda s: s.state in ("idle", "busy", "permission", "dialog"),
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
            log.warning("Claude shows a dialog at start: %s", screen.dialog.replace("\n", " | "))
        return True

    # -- the journal -----------------------------------------------------------------------------

    def save(self) -> None:
        self.state.in_flight = self.queue.current
        self.state_file.save(self.state)

    def transcript(self) -> Path:
        return self.pane.transcript(self.state)

    def held(self, in_flight: InFlight) -> bool:
        """Does Claude's conversation durably hold this prompt?"""
        return holds_prompt(self.transcript(), in_flight.transcript_offset, in_flight.text)

    async def reconcile_in_flight(self) -> None:
        """After a worker or Claude restart: finish, wait for, or retype the message in flight.

        Claude busy: a turn is running; its Stop decides (by the transcript) whether it was
        this message's. Claude idle: the transcript decides. Held means delivered, even if
        the turn was cut off; not held means Claude never had it (even if UserPromptSubmit
        fired), so it is typed again.
        """
        current = self.queue.current
        if current is None or self.claude == "busy":
            return
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

    async def send(self, message: WireMessage) -> None:
        await send(self.bus, message)

    async def receive_loop(self) -> None:
        while True:
            frames = await self.bus.recv_multipart()
            self._supervisor_seen = time.monotonic()
            try:
                message = parse_single(frames)
            except ProtocolError as exc:
                log.warning("dropped a malformed frame from the supervisor: %s", exc)
                continue
            match message:
                case Deliver(message=chat):
                    if self.queue.offer(chat):
                        log.info("queued message %d (%d waiting)", chat.message_id, len(self.queue))
                        self.wakeup.set()
                case TurnAck(turn_id=turn_id):
                    before = len(self.state.unacked_turns)
                    self.state.unacked_turns = [
                        t for t in self.state.unacked_turns if t.turn_id != turn_id
                    ]
                    if len(self.state.unacked_turns) != before:
                        self.save()
                case Interrupt():
                    log.info("interrupting Claude (Escape)")
                    await self.pane.send_key("Escape")
                case Shutdown(stop_claude=stop_claude):
                    self.stop_claude = stop_claude
                    self.stopping.set()
                case Heartbeat():
                    pass
                case _:
                    log.warning("unexpected %s from the supervisor", type(message).__name__)

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

    async def set_claude(self, state: ClaudeState, pane_pid: int | None = None) -> None:
        if state != self.claude:
            log.info("claude %s -> %s", self.claude, state)
            self.claude = state
            await self.send(ClaudeStatus(session=self.spec.session, state=state, pane_pid=pane_pid))
            self.wakeup.set()

    async def end_turn(self, text: str, interrupted: bool = False, turn_id: str = "") -> None:
        """Record a turn's end durably, then tell the supervisor (resent until acked)."""
        done = self.queue.finish()
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
        text = prompt_text(message)
        if not text.strip():
            self.queue.take(text, 0)
            self.queue.finish()
            self.save()
            await self.update(message, "failed", "the message has no text to send")
            return
        screen = await self.pane.wait_screen(lambda s: s.state == "idle", 5.0)
        if screen is None:
            return
        already_there = bool(screen.input_text) and _same_prompt(screen.input_text, text)
        if screen.input_text and not already_there and not await self.clear_input():
            return
        in_flight = self.queue.take(text, size_of(self.transcript()))
        assert in_flight is not None
        self.save()  # before the first key: a new worker must know what may be in Claude
        self._prompt_seen.clear()
        if already_there:
            # A previous worker pasted it and died before Enter: submit what is there.
            log.info("message %d is already in the input box", message.message_id)
        else:
            await self.pane.paste(text)
            echoed = await self.pane.wait_screen(
                lambda s: s.state == "idle" and bool(s.input_text), 3.0
            )
            if echoed is None:
                log.warning("message %d was not echoed in the input box", message.message_id)
                await self.clear_input()
                self.queue.retry()
                self.save()
                return
        if await self.submit(text):
            if text.startswith("/") and not self._prompt_seen.is_set():
                # A slash command Claude ran itself: no model turn, no Stop.
                self.queue.finish()
                self.save()
                await self.update(message, "done", "slash command")
            return
        log.warning(
            "message %d was not submitted after %d Enters", message.message_id, ENTER_ATTEMPTS
        )
        self.queue.retry()
        self.save()

    async def clear_input(self) -> bool:
        """Empty Claude's input box (Ctrl-C clears it when it holds text); True if empty."""
        await self.pane.send_key("C-c")
        cleared = await self.pane.wait_screen(lambda s: s.state != "idle" or not s.input_text, 2.0)
        if cleared is None or cleared.state != "idle":
            log.warning("could not clear Claude's input box")
            return False
        return True

    async def submit(self, text: str) -> bool:
        """The lost-Enter recipe: Enter, confirm by hook (or an emptied box), else Enter again."""
        for attempt in range(1, ENTER_ATTEMPTS + 1):
            await self.pane.send_key("Enter")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._prompt_seen.wait(), 0.2 * attempt)
                return True
            screen = await self.pane.screen()
            if screen.state == "idle" and not screen.input_text and text.startswith("/"):
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

    async def on_hook(self, event: HookEvent) -> bytes:
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
        elif name == "Notification" and event.notification_type == "permission_prompt":
            await self.set_claude("permission")
        return b""

    # -- pane health ---------------------------------------------------------------------------

    async def pane_watch_loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            if self.spec.layout.hook_spool(self.spec.session).exists():
                # A hook client that found no worker listening, just before this one did.
                await self.hooks.replay_spool()
            info = await self.pane.info()
            if info.dead:
                log.warning("Claude exited; restarting it in the same pane")
                # Nothing may be typed into the new Claude until the journal and the
                # transcript have said what the old one took.
                await self.stop_typing()
                await self.set_claude("dead")
                await self.pane.respawn(self.state)
                self.save()
                if not await self.wait_until_ready():
                    log.error("Claude did not come back")
                    return
                await self.reconcile_in_flight()
                self.start_typing()
            elif self.claude in ("permission", "dialog"):
                screen = await self.pane.screen()
                if screen.state == "idle":
                    await self.set_claude("idle")


def main() -> int:
    raw = os.environ.get(SPEC_ENV)
    if not raw:
        print(f"worker: {SPEC_ENV} is not set (the supervisor starts workers)", file=sys.stderr)
        return 2
    spec = decode_spec(raw)
    setup_logging(f"session={spec.session}")
    try:
        return asyncio.run(Worker(spec).run())
    except TmuxError as exc:
        log.error("tmux: %s", exc)
        return 3


if __name__ == "__main__":
    sys.exit(main())
