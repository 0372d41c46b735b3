"""The worker process: one per session, between the supervisor and Claude's pane.

An I/O shell around the turn tracker (worker/turns): the supervisor's messages, Claude's
hooks and the pane's screens become events; the tracker's actions are carried out here,
in its order, journal first. Messages wait in the tracker's queue and are typed one at a
time when Claude is idle (worker/delivery.py). What it must not forget if it is killed
(the message in flight, unacknowledged turn ends) is in the session's journal, so the
next worker neither types a message twice nor drops one.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, assert_never, get_args

import zmq.asyncio

from vai.common.bus import dealer_socket, send
from vai.common.bus_auth import ClientKeys
from vai.common.child_secrets import SecretsError, read_secrets
from vai.common.exit_codes import EXIT_CONFIG, EXIT_NO_PANE, EXIT_NOT_READY, EXIT_USAGE
from vai.common.logs import setup_logging
from vai.common.secrecy import make_undumpable
from vai.common.tasks import Background
from vai.common.tmux import TmuxError
from vai.protocol.codec import ProtocolError
from vai.protocol.framing import parse_single
from vai.protocol.layout import ipc_endpoint
from vai.protocol.links import TO_WORKER, WorkerToSupervisor
from vai.protocol.messages import (
    ChoiceAnswer,
    Deliver,
    Heartbeat,
    Interrupt,
    InterruptOutcome,
    InterruptResult,
    Shutdown,
    TurnAck,
    WorkerHello,
)
from vai.protocol.specs import WORKER_SPEC_ENV, WorkerSpec, decode_spec
from vai.worker import session_lock
from vai.worker.attachments import AttachmentStore, attachment_limits
from vai.worker.attention import Attention
from vai.worker.choices import ChoiceBroker, waited_for_in
from vai.worker.claude_pane import ClaudePane
from vai.worker.delivery import TypingPipeline
from vai.worker.dialogs import StartupAnswers
from vai.worker.effects import Effects
from vai.worker.hook_handler import HookHandler
from vai.worker.hook_server import HookServer
from vai.worker.pane_access import PaneAccess
from vai.worker.pane_posts import PanePosts
from vai.worker.pane_watch import PaneWatch
from vai.worker.prompt_queue import PromptQueue
from vai.worker.session_state import StateFile
from vai.worker.transcript import ConversationTranscript
from vai.worker.turns.states import AT_PROMPT, READY
from vai.worker.turns.tracker import TurnTracker
from vai.worker.turns.vocabulary import Delivered, InterruptRequested, PaneReady, TurnEvent
from vai.worker.typist import Typist
from vai.worker.usage import UsageReader

log = logging.getLogger("worker")

# Missing supervisor heartbeats tolerated before the worker concludes it was orphaned.
SUPERVISOR_LIVENESS = 5
RESEND_TURNS_EVERY = 1.0
CLEAN_ATTACHMENTS_EVERY = 3600.0
INTERRUPT_REPORT_WAIT = 6.0  # an interrupt ends within ~5 s (worker/turns/interruption.py)
INTERRUPT_OUTCOMES: dict[str, InterruptOutcome] = {o: o for o in get_args(InterruptOutcome)}


class Worker:
    def __init__(self, spec: WorkerSpec, keys: ClientKeys) -> None:
        self.spec = spec
        self.access = PaneAccess(spec)
        self.pane = ClaudePane(spec, self.access.files)
        self.state_file = StateFile(spec.layout.session_state(spec.session))
        self.state = self.state_file.load()
        queue = PromptQueue()
        queue.restore(
            self.state.in_flight,
            [i for turn in self.state.unacked_turns for i in turn.message_ids],
        )
        self.tracker = TurnTracker(
            clock=time.monotonic,
            transcript=ConversationTranscript(self.transcript, self.pane.owner),
            queue=queue,
        )
        self.context = zmq.asyncio.Context()
        self.bus = dealer_socket(self.context, ipc_endpoint(spec.layout.bus_socket), keys)
        self.stopping = asyncio.Event()
        self.stop_claude = False
        self._supervisor_seen = time.monotonic()
        self.background = Background(log)
        waits = waited_for_in(self.tracker)
        self.choices = ChoiceBroker(spec.session, self.send, spec.choice_timeout, self.save, waits)
        self.choices.orphans = list(self.state.open_choices)
        self.attention = Attention(
            self.pane,
            self.choices,
            StartupAnswers(
                trust_work_dir=spec.trust_work_dir,
                approve_api_key=spec.approve_api_key,
                accept_bypass_permissions=spec.accept_bypass_permissions,
            ),
            self.tell,
        )
        self.attachments = AttachmentStore(
            spec.layout.session_attachments(spec.session),
            spec.layout.run_dir / "attachment-slots",
            attachment_limits(spec),
            group=self.access.group,
        )
        typist = Typist(self.pane)
        self.typing = TypingPipeline(
            pane=self.pane,
            typist=typist,
            tracker=self.tracker,
            tell=self.tell,
            idle=lambda: self.effects.claude in AT_PROMPT,
            attachments=self.attachments,
            state=self.state,
            save=self.save,
            transcript=self.transcript,
        )
        self.watch = PaneWatch(self)
        self.effects = Effects(
            session=spec.session,
            state=self.state,
            save=self.save,
            send=self.send,
            choices=self.choices,
            typist=typist,
            typing=self.typing,
            attachments=self.attachments,
            watch_closely=self.watch.follow_closely,
            usage=UsageReader(self.transcript, self.pane.owner),
            usage_wait=spec.usage_wait,
        )
        self.posts = PanePosts(
            session=spec.session,
            channel_id=spec.channel_id,
            outgoing=spec.layout.outgoing_dir(spec.session),
            upload_limit=spec.upload_limit,
            send=self.send,
        )
        self.hooks = HookServer(
            spec.layout.hook_socket(spec.session),
            spec.layout.hook_spool(spec.session),
            HookHandler(
                session=spec.session,
                tracker=self.tracker,
                tell=self.tell,
                send=self.send,
                state=self.state,
                save=self.save,
                choices=self.choices,
            ).on_hook,
            gate=lambda: self.access.gate,
            pane_pid=self.pane.claude_pid,
            post=self.posts.handle,
            post_max=spec.upload_limit * 4 // 3 + 65536,
            group=self.access.group,
            status=self.effects.costs.take_reading,
        )

    # -- main --------------------------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        if problem := self.access.prepare():
            log.error("%s", problem)
            return EXIT_CONFIG
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
        await self.effects.send_unacked_turns()
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
            hello = WorkerHello(
                session=self.spec.session,
                pid=os.getpid(),
                ready=True,
                claude_state=self.effects.claude,
            )
            await self.send(hello)
            self.typing.start(on_failure=self.stopping.set)
            tasks += [
                asyncio.create_task(self.watch.loop()),
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
            await self.typing.stop()
            await self.attention.close()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, self.background.cancel_all(), return_exceptions=True)
            # Hooks first: what Claude fires from now on is spooled for the next worker.
            await self.hooks.close()
            await self.pane.close(stop_claude=self.stop_claude)
            self.bus.close(linger=0)
            self.context.term()

    async def wait_until_ready(self) -> bool:
        """Wait for Claude's screen, then settle the message in flight (PaneReady); give up
        at once if Claude exits (a restart storm must reach the supervisor's backoff
        quickly, not after the ready timeout)."""
        deadline = time.monotonic() + self.spec.ready_timeout
        while True:
            screen = await self.pane.wait_screen(
                lambda s: s.state in READY, min(1.0, max(0.0, deadline - time.monotonic()))
            )
            if screen is not None:
                break
            if (await self.pane.info()).dead:
                last = [line for line in await self.pane.lines() if line.strip()][-5:]
                log.error("Claude exited at start: %s", " | ".join(last) or "no output")
                return False
            if time.monotonic() >= deadline:
                return False
        await self.tell(PaneReady(screen))
        return True

    # -- the tracker -----------------------------------------------------------------------------

    async def tell(self, event: TurnEvent) -> None:
        """Give the tracker an event and carry out what it decides."""
        await self.effects.apply(self.tracker.handle(event))

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self.background.spawn(work)

    # -- the journal -----------------------------------------------------------------------------

    def save(self) -> None:
        self.state.in_flight = self.tracker.in_flight
        self.state.open_choices = self.choices.open_requests()
        self.state_file.save(self.state)

    def transcript(self) -> Path:
        return self.pane.transcript(self.state)

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
                    # Queued now, in arrival order; the rest need not hold up this loop.
                    self.spawn(self.effects.apply(self.tracker.handle(Delivered(chat))))
                case TurnAck(turn_id=turn_id):
                    before = len(self.state.unacked_turns)
                    self.state.unacked_turns = [
                        t for t in self.state.unacked_turns if t.turn_id != turn_id
                    ]
                    if len(self.state.unacked_turns) != before:
                        self.save()
                case Interrupt(request_id=request_id):
                    self.spawn(self.interrupt(request_id))
                case ChoiceAnswer():
                    self.choices.answer(message)
                case Shutdown(stop_claude=stop_claude):
                    self.stop_claude = stop_claude
                    self.stopping.set()
                case Heartbeat():
                    pass
                case _:
                    assert_never(message)

    async def interrupt(self, request_id: str = "") -> None:
        """Escape on request (worker/turns/interruption.py decides the keys and the end);
        with a request id, the supervisor hears how it went (idle: nothing to interrupt)."""
        self.tracker.last_interrupt = ""
        await self.tell(InterruptRequested(await self.pane.screen()))
        deadline = time.monotonic() + INTERRUPT_REPORT_WAIT
        while not self.tracker.last_interrupt and time.monotonic() < deadline:
            await asyncio.sleep(0.05)  # the pane watch moves the interruption along
        outcome = INTERRUPT_OUTCOMES.get(self.tracker.last_interrupt)
        if request_id and outcome is not None:
            result = InterruptResult(
                session=self.spec.session, request_id=request_id, outcome=outcome
            )
            await self.send(result)

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

    async def resend_turns_loop(self) -> None:
        """Turn ends are the one message the worker must not lose: resend until acked."""
        while True:
            await asyncio.sleep(RESEND_TURNS_EVERY)
            await self.effects.send_unacked_turns()

    # -- attachments -------------------------------------------------------------------------

    def prepare_attachments(self) -> None:
        flat = self.spec.layout.attachments_dir if self.spec.session == 1 else None
        self.attachments.start(self.attachments_in_use(), migrate_from=flat)

    def attachments_in_use(self) -> list[str]:
        return [path for paths in self.state.attachments.values() for path in paths]

    async def clean_attachments_loop(self) -> None:
        self.posts.clean()
        await self.attachments.clean_every(
            CLEAN_ATTACHMENTS_EVERY, self.attachments_in_use, also=self.posts.clean
        )


def main() -> int:
    make_undumpable()  # before anything secret is read: Claude's pane may not read us
    raw = os.environ.get(WORKER_SPEC_ENV)
    if not raw:
        print(
            f"worker: {WORKER_SPEC_ENV} is not set (the supervisor starts workers)", file=sys.stderr
        )
        return EXIT_USAGE
    spec = decode_spec(raw, WorkerSpec)
    try:
        secrets = read_secrets(spec.secrets_fd)
    except SecretsError as exc:
        print(f"worker: {exc}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(f"session={spec.session}", log_file=spec.layout.session_log(spec.session))
    try:
        # Before the journal is read: a leftover worker of this session must be gone.
        lock = session_lock.take(spec.layout.run_dir / f"worker-{spec.session}.lock", spec.session)
    except TimeoutError as exc:
        log.error("%s", exc)
        return EXIT_NO_PANE
    try:
        return asyncio.run(Worker(spec, secrets.bus).run())
    except TmuxError as exc:
        log.error("tmux: %s", exc)
        return EXIT_NO_PANE
    finally:
        os.close(lock)


if __name__ == "__main__":
    sys.exit(main())
