"""The worker process: one per session, between the supervisor and Claude's pane.

It owns the pane's input: messages from the supervisor wait in its queue and are typed one
at a time when Claude is idle; hook events tell it what Claude did and go upstream.
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

import zmq
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
    PromptStage,
    Shutdown,
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
from worker.screen import Screen
from worker.spec import SPEC_ENV, WorkerSpec, decode_spec
from worker.tmux_control import TmuxError

log = logging.getLogger("worker")

# Missing supervisor heartbeats tolerated before the worker concludes it was orphaned.
SUPERVISOR_LIVENESS = 5
ENTER_ATTEMPTS = 5


def prompt_text(message: ChatMessage) -> str:
    return sanitize_prompt(message.content)


def _same_prompt(typed: str, seen: str) -> bool:
    return " ".join(typed.split()) == " ".join(seen.split())


class Worker:
    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.pane = ClaudePane(spec)
        self.queue = PromptQueue()
        self.state: ClaudeState = "starting"
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
        self._expected_prompt: str | None = None
        self._prompt_seen = asyncio.Event()
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
        created = await self.pane.open()
        log.info("%s tmux session %s", "created" if created else "adopted", self.pane.name)
        await self.send(WorkerHello(session=self.spec.session, pid=os.getpid(), ready=False))
        replayed = await self.hooks.replay_spool()
        if replayed:
            log.info("replayed %d spooled hook events", replayed)
        tasks = [
            asyncio.create_task(self.receive_loop()),
            asyncio.create_task(self.heartbeat_loop()),
        ]
        try:
            if not await self.wait_until_ready():
                log.error("Claude did not become ready within %.0fs", self.spec.ready_timeout)
                return 2
            await self.send(
                WorkerHello(
                    session=self.spec.session, pid=os.getpid(), ready=True, claude_state=self.state
                )
            )
            tasks += [
                asyncio.create_task(self.typing_loop()),
                asyncio.create_task(self.pane_watch_loop()),
            ]
            stop = asyncio.create_task(self.stopping.wait())
            closed = asyncio.create_task(self.pane.control.closed.wait())
            await asyncio.wait([stop, closed, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                if task.done() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
            return 0 if self.stopping.is_set() else 1
        finally:
            for task in tasks:
                task.cancel()
            await self.pane.close(stop_claude=self.stop_claude)
            await self.hooks.close()
            self.bus.close(linger=0)
            self.context.term()

    async def wait_until_ready(self) -> bool:
        screen = await self.pane.wait_screen(
            lambda s: s.state in ("idle", "busy", "permission", "dialog"),
            self.spec.ready_timeout,
        )
        if screen is None:
            return False
        await self.set_state(screen.state)
        if screen.state == "dialog":
            log.warning("Claude shows a dialog at start: %s", screen.dialog.replace("\n", " | "))
        return True

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

    async def update(self, message: ChatMessage, stage: PromptStage, detail: str = "") -> None:
        await self.send(
            DeliveryUpdate(
                session=self.spec.session, message_id=message.message_id, stage=stage, detail=detail
            )
        )

    async def set_state(self, state: ClaudeState, pane_pid: int | None = None) -> None:
        if state != self.state:
            log.info("claude %s -> %s", self.state, state)
            self.state = state
            await self.send(ClaudeStatus(session=self.spec.session, state=state, pane_pid=pane_pid))
            self.wakeup.set()

    # -- typing --------------------------------------------------------------------------------

    async def typing_loop(self) -> None:
        while True:
            await self.wakeup.wait()
            self.wakeup.clear()
            while self.state == "idle":
                message = self.queue.next_prompt()
                if message is None:
                    break
                await self.type_message(message)

    async def type_message(self, message: ChatMessage) -> None:
        text = prompt_text(message)
        if not text.strip():
            self.queue.finished_without_turn()
            await self.update(message, "failed", "the message has no text to send")
            return
        screen = await self.pane.wait_screen(lambda s: s.state == "idle", 5.0)
        if screen is None:
            self.queue.typing_failed()
            return
        if screen.input_text:
            # Someone typed in the pane by hand; clear the box before pasting.
            await self.pane.send_key("C-u")
        self._expected_prompt = text
        self._prompt_seen.clear()
        await self.pane.paste(text)
        echoed = await self.pane.wait_screen(
            lambda s: s.state == "idle" and bool(s.input_text), 3.0
        )
        if echoed is None:
            log.warning("message %d was not echoed in the input box", message.message_id)
            self.queue.typing_failed()
            self.wakeup.set()
            return
        if await self.submit(text):
            if text.startswith("/") and not self._prompt_seen.is_set():
                self.queue.finished_without_turn()
                await self.update(message, "done", "slash command")
            return
        self.queue.typing_failed()
        log.warning(
            "message %d was not submitted after %d Enters", message.message_id, ENTER_ATTEMPTS
        )

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
            state = self.pane.load_state()
            if state.conversation_id != event.session_id:
                state.conversation_id = event.session_id
                self.pane.save_state(state)
                log.info("conversation is now %s (%s)", event.session_id, event.source)
        elif name == "UserPromptSubmit":
            await self.set_state("busy")
            if self._expected_prompt is not None and _same_prompt(
                self._expected_prompt, event.prompt
            ):
                self._expected_prompt = None
                message = self.queue.submitted()
                self._prompt_seen.set()
                if message is not None:
                    await self.update(message, "accepted")
            else:
                log.info("a prompt typed in the pane by hand started a turn")
        elif name == "Stop":
            done = self.queue.turn_ended()
            await self.send(
                TurnEnded(
                    session=self.spec.session,
                    turn_id=event.prompt_id or str(uuid.uuid4()),
                    text=event.last_assistant_message or "",
                    message_ids=[m.message_id for m in done],
                )
            )
            await self.set_state("idle")
        elif name == "Notification" and event.notification_type == "permission_prompt":
            await self.set_state("permission")
        return b""

    # -- pane health ---------------------------------------------------------------------------

    async def pane_watch_loop(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            info = await self.pane.info()
            if info.dead:
                back = self.queue.abandon_turn()
                log.warning("Claude exited; restarting it (%d messages to retype)", len(back))
                await self.set_state("dead")
                await self.pane.respawn()
                if not await self.wait_until_ready():
                    log.error("Claude did not come back")
                    return
            elif self.state in ("permission", "dialog", "busy"):
                screen: Screen = await self.pane.screen()
                if screen.state == "idle" and self.state != "busy":
                    await self.set_state("idle")


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
