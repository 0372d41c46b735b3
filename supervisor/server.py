"""The supervisor process: children, the durable inbox, routing, and the control API.

One asyncio loop. Children's exits, frames on the two ROUTER sockets and timers all wake
the same loop; policies (supervisor.process_policy) decide, this module acts.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import assert_never

import msgspec
import zmq
import zmq.asyncio

from vai.common.backoff import Backoff
from vai.common.bus import router_socket, send_to
from vai.common.errors import BridgeError
from vai.common.exit_codes import EXIT_CONFIG
from vai.common.tasks import Background
from vai.common.tmux import kill_session, tmux_run
from vai.protocol.codec import ProtocolError
from vai.protocol.framing import (
    GATEWAY_IDENTITY,
    routed_frame,
    session_from_identity,
    worker_identity,
)
from vai.protocol.layout import MAX_SOCKET_PATH, ipc_endpoint, snowflake_at, tmux_session_name
from vai.protocol.links import FROM_GATEWAY, FROM_WORKER, GatewayToSupervisor, WorkerToSupervisor
from vai.protocol.messages import (
    ChoiceAnswer,
    ChoiceRequest,
    ClaudeState,
    ClaudeStatus,
    Deliver,
    DeliveryUpdate,
    GatewayHello,
    GatewayProblem,
    Heartbeat,
    Inbound,
    InboundAck,
    Interrupt,
    PostReply,
    PromptProgress,
    ReplyPosted,
    Route,
    SessionMap,
    Shutdown,
    ToolProgress,
    TurnAck,
    TurnEnded,
    Typing,
    WireMessage,
    WorkerHello,
)
from vai.supervisor.child_env import child_environment
from vai.supervisor.child_process import ChildProcess, describe_exit
from vai.supervisor.config import Config, resolve_claude
from vai.supervisor.inbox import Inbox
from vai.supervisor.leftovers import ChildRegistry
from vai.supervisor.monitor import Monitor
from vai.supervisor.notify import sd_notify, watchdog_interval
from vai.supervisor.process_policy import Action, ProcessPolicy, State, Transition
from vai.supervisor.sessions_file import load_sessions, save_sessions
from vai.supervisor.spawn_specs import gateway_command, worker_command

log = logging.getLogger("supervisor")

GATEWAY = "gateway"
# The channel of session 1 when the embedded local Discord starts with no sessions.
LOCAL_DEMO_CHANNEL = 100000000000000001
# Missed heartbeats before a live but silent child counts as hung.
CHILD_LIVENESS = 5
BATCH = 512


@dataclass
class Child:
    """One supervised process and what the supervisor knows of it."""

    name: str
    session: int | None
    policy: ProcessPolicy
    process: ChildProcess | None = None
    connected: bool = False
    # True once the backlog was sent after READY: live messages may follow it, in order.
    taking_messages: bool = False
    last_seen: float = 0.0
    claude_state: ClaudeState = "unknown"
    hello_waiters: list[asyncio.Future[None]] = field(default_factory=list)

    @property
    def identity(self) -> bytes:
        return GATEWAY_IDENTITY if self.session is None else worker_identity(self.session)


class Supervisor:
    def __init__(self, config: Config, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.layout = config.layout
        self.clock = clock
        self.started = clock()
        self.sessions: dict[int, int] = {}
        self.children: dict[str, Child] = {}
        self.inbox: Inbox | None = None
        self.context = zmq.asyncio.Context()
        self.bus: zmq.asyncio.Socket | None = None
        self.wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self._lock_fd: int | None = None
        self._gateway_connected = False
        self._notified_ready = False
        self.background = Background(log)
        self.registry = ChildRegistry(self.layout.run_dir / "children.json")
        self._open_choices: dict[str, ChoiceRequest] = {}
        # Sessions announced as stopped (FATAL): their return to RUNNING is announced too.
        self._troubled: set[int] = set()
        # What the gateway says only the operator can fix, by channel (0: the gateway).
        self.gateway_problems: dict[int, str] = {}
        self.monitor = Monitor(self)

    # -- start and stop ----------------------------------------------------------------------

    def prepare(self) -> None:
        """Directories, the single-instance lock, the inbox: everything before sockets."""
        # Read first: a file that cannot be used stops us before anything is made.
        sessions = load_sessions(self.layout.sessions_file, self.config.encryption_key)
        for directory in (self.layout.root, self.layout.run_dir, self.layout.state_dir):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(directory, 0o700)
        for directory in (self.layout.logs_dir, self.layout.attachments_dir):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        too_long = [p for p in self.layout.socket_paths() if len(str(p)) > MAX_SOCKET_PATH]
        if too_long:
            raise BridgeError(
                f"VAI_HOME {self.layout.home} is too long for Unix socket paths"
                f" ({len(str(too_long[0]))} > {MAX_SOCKET_PATH} bytes); choose a shorter one"
            )
        self._lock_fd = os.open(self.layout.pid_file, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(self._lock_fd, 32, 0).decode().strip() or "?"
            os.close(self._lock_fd)
            self._lock_fd = None
            raise BridgeError(
                f"a supervisor is already running for {self.layout.home} (pid {other})"
            ) from None
        os.ftruncate(self._lock_fd, 0)
        os.pwrite(self._lock_fd, f"{os.getpid()}\n".encode(), 0)
        self.config, note = resolve_claude(self.config)
        if note:
            log.warning("%s", note)
        self.config = self.monitor.apply_limits(self.config)
        self.sessions = sessions
        if not self.sessions and self.config.uses_local_discord:
            self.sessions = {1: LOCAL_DEMO_CHANNEL}
            save_sessions(self.layout.sessions_file, self.sessions, self.config.encryption_key)
            log.info("no sessions yet: session 1 is the local demo channel %d", LOCAL_DEMO_CHANNEL)
        self.inbox = Inbox(self.layout.inbox_db, self.config.encryption_key)
        for channel in self.sessions.values():
            self.inbox.start_cursor(channel, snowflake_at(time.time()))
        self.registry.end_leftovers(self.config.file.supervisor.stop_grace)
        self.start_tmux_server()

    def start_tmux_server(self) -> None:
        """One tmux server for all panes, started before any worker.

        Workers creating their sessions at the same moment would otherwise race to start
        the server (and lose). `exit-empty off` keeps it up while no session exists.
        """
        done = tmux_run(
            self.config.tmux_socket,
            "start-server", ";", "set-option", "-g", "exit-empty", "off",
            env=child_environment(env_file=self.layout.env_file),  # no secret reaches a pane
        )  # fmt: skip
        if done.returncode != 0:
            raise BridgeError(
                f"cannot start tmux (socket {self.config.tmux_socket}): {done.stderr.strip()}"
            )

    async def run(self) -> int:
        from vai.supervisor.control import ControlServer

        try:
            self.prepare()
        except BaseException:
            self._undo_prepare()
            raise
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, self.stopping.set)
        for path in (self.layout.bus_socket, self.layout.control_socket):
            path.unlink(missing_ok=True)
        self.bus = router_socket(self.context, ipc_endpoint(self.layout.bus_socket))
        control = ControlServer(self)
        control.bind()
        log.info(
            "supervisor %d for %s: %d sessions", os.getpid(), self.layout.home, len(self.sessions)
        )
        self._add_child(GATEWAY, None)
        for session in sorted(self.sessions):
            self._add_child(f"session-{session}", session)
        for child in list(self.children.values()):
            await self._act(child, child.policy.start("boot"))
        tasks = [
            asyncio.create_task(self._bus_loop()),
            asyncio.create_task(control.serve()),
            asyncio.create_task(self._supervise_loop()),
            asyncio.create_task(self.monitor.run()),
        ]
        try:
            stop = asyncio.create_task(self.stopping.wait())
            done, _ = await asyncio.wait([stop, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stop and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
        finally:
            sd_notify("STOPPING=1")
            for task in tasks:
                task.cancel()
            await self.shutdown()
            await self.monitor.close()
            control.close()
            self.bus.close(linger=0)
            self.context.term()
            if self.inbox is not None:
                self.inbox.close()
            self.layout.pid_file.unlink(missing_ok=True)
        log.info("supervisor stopped")
        return 0

    def _undo_prepare(self) -> None:
        """A start that failed leaves nothing behind: no memory cgroup, no pid file."""
        self.monitor.limiter.cleanup(wait=0)
        if self.inbox is not None:
            self.inbox.close()
        if self._lock_fd is not None:
            self.layout.pid_file.unlink(missing_ok=True)
            os.close(self._lock_fd)
            self._lock_fd = None

    async def shutdown(self) -> None:
        """Stop every child: workers end their Claude panes, then the gateway goes."""
        grace = self.config.file.supervisor.stop_grace
        workers = [c for c in self.children.values() if c.session is not None]
        for child in workers:
            await self._send(child, Shutdown(stop_claude=True))
        await asyncio.gather(*(self._stop_child(child, grace) for child in workers))
        if GATEWAY in self.children:
            await self._stop_child(self.children[GATEWAY], grace)
        tmux_run(self.config.tmux_socket, "kill-server")

    async def _stop_child(self, child: Child, grace: float) -> None:
        child.policy.stop("supervisor stopping")
        if child.process is not None:
            await child.process.stop(grace)

    # -- children ------------------------------------------------------------------------------

    def _add_child(self, name: str, session: int | None) -> Child:
        sup = self.config.file.supervisor

        def transition(change: Transition, name: str = name) -> None:
            log.info("%s: %s -> %s (%s)", name, change.old.value, change.new.value, change.reason)
            if change.new is State.FATAL and session is not None:
                self._alert(
                    session,
                    f"Session {session} stopped: {change.reason}. Use `vai recover {session}`.",
                )
            if session is not None and change.new is State.FATAL:
                self._troubled.add(session)  # announced as stopped: announce its return
            elif change.new is State.RUNNING and session in self._troubled:
                self._troubled.discard(session)
                self._alert(session, f"Session {session} recovered: running again.", icon="✅")

        child = Child(
            name=name,
            session=session,
            policy=ProcessPolicy(
                clock=self.clock,
                start_retries=sup.start_retries,
                start_secs=min(sup.start_secs, 0.5) if session is None else sup.start_secs,
                quiet_period=sup.quiet_period,
                backoff=Backoff(base=sup.backoff_base, cap=sup.backoff_max, jitter=0.1),
                on_transition=transition,
            ),
        )
        self.children[name] = child
        return child

    async def _act(self, child: Child, action: Action) -> None:
        if action is Action.SPAWN:
            await self._spawn(child)
        elif action is Action.KILL and child.process is not None:
            await child.process.stop(self.config.file.supervisor.stop_grace)

    async def _spawn(self, child: Child) -> None:
        if child.session is None:
            argv, env = gateway_command(self.config)
            log_path = self.layout.process_log(GATEWAY)
        else:
            self.monitor.session_starting(child.session)
            argv, env = worker_command(self.config, child.session, self.sessions[child.session])
            log_path = self.layout.session_log(child.session)
        process = ChildProcess(child.name, argv, env, log_path)
        child.process = process
        child.connected = False
        child.taking_messages = False
        child.last_seen = self.clock()
        try:
            pid = await process.spawn(self.layout.root)
        except OSError as exc:
            log.error("%s: cannot start: %s", child.name, exc)
            await self._act(child, child.policy.exited(f"spawn failed: {exc}"))
            return
        log.info("%s: started pid %d", child.name, pid)
        self.registry.record(child.name, pid)
        self.background.spawn(self._watch_exit(child, process))

    async def _watch_exit(self, child: Child, process: ChildProcess) -> None:
        code = await process.wait()
        if process.pid is not None:
            self.registry.forget(child.name, process.pid)
        if child.process is not process:
            return
        child.connected = False
        child.taking_messages = False
        if child.session is None:
            self._gateway_connected = False
        how = describe_exit(code)
        log.info("%s: pid %s %s", child.name, process.pid, how)
        if child.session is None and code == EXIT_CONFIG:
            # A bad token or a missing intent: restarting cannot help (and piles up 401s).
            how = self.gateway_problems.get(0) or "configuration error; see `vai tail gateway`"
            child.policy.failures = max(child.policy.failures, child.policy.start_retries - 1)
        await self._act(child, child.policy.exited(how))
        self.wake.set()

    async def _supervise_loop(self) -> None:
        interval = self.config.file.supervisor.heartbeat_interval
        watchdog = watchdog_interval()
        next_beat = next_watchdog = self.clock()
        while True:
            now = self.clock()
            if watchdog is not None and now >= next_watchdog:
                sd_notify("WATCHDOG=1")
                next_watchdog = now + watchdog
            for child in list(self.children.values()):
                await self._act(child, child.policy.tick())
                if (
                    child.process is not None
                    and child.policy.state in (State.STARTING, State.RUNNING)
                    and now - child.last_seen > interval * CHILD_LIVENESS
                ):
                    log.warning(
                        "%s: silent for %.1fs; killing it", child.name, now - child.last_seen
                    )
                    child.last_seen = now
                    await self._act(child, child.policy.hung("no heartbeat"))
            if now >= next_beat:
                next_beat = now + interval
                for child in self.children.values():
                    if child.connected:
                        await self._send(child, Heartbeat(pid=os.getpid()))
            self._maybe_notify_ready()
            deadlines = [d for c in self.children.values() if (d := c.policy.next_deadline())]
            if watchdog is not None:
                deadlines.append(next_watchdog)
            timeout = max(0.0, min([next_beat, *deadlines]) - self.clock())
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)

    def _maybe_notify_ready(self) -> None:
        if self._notified_ready:
            return
        if all(c.policy.state is State.RUNNING for c in self.children.values()):
            self._notified_ready = True
            sd_notify("READY=1")
            log.info("all %d sessions running", len(self.sessions))

    # -- bus: gateway and workers ----------------------------------------------------------------

    async def _send(self, child: Child, message: WireMessage) -> bool:
        assert self.bus is not None
        try:
            await send_to(self.bus, child.identity, message)
            return True
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            return False

    async def send_gateway(self, message: WireMessage) -> bool:
        gateway = self.children.get(GATEWAY)
        if gateway is None or not self._gateway_connected:
            return False
        return await self._send(gateway, message)

    async def _bus_loop(self) -> None:
        assert self.bus is not None
        while True:
            batch = [await self.bus.recv_multipart()]
            while len(batch) < BATCH:
                try:
                    batch.append(await self.bus.recv_multipart(flags=zmq.NOBLOCK))
                except zmq.Again:
                    break
            inbound: list[Inbound] = []
            for frames in batch:
                try:
                    identity, frame = routed_frame(frames)
                    child = self._child_for(identity)
                    if child is None:
                        log.warning("message from unknown peer %r dropped", identity)
                        continue
                    if child.session is None:
                        from_gateway = FROM_GATEWAY.decode(frame)
                    else:
                        from_worker = FROM_WORKER.decode(frame)
                except ProtocolError as exc:
                    log.warning("dropped a malformed frame on the bus: %s", exc)
                    continue
                child.last_seen = self.clock()
                if child.session is not None:
                    await self._on_worker(child, from_worker)
                elif isinstance(from_gateway, Inbound):
                    inbound.append(from_gateway)
                else:
                    await self._on_gateway(child, from_gateway)
            if inbound:
                await self._on_inbound(inbound)
            self.wake.set()

    def _child_for(self, identity: bytes) -> Child | None:
        if identity == GATEWAY_IDENTITY:
            return self.children.get(GATEWAY)
        session = session_from_identity(identity)
        return None if session is None else self.children.get(f"session-{session}")

    async def _on_gateway(self, child: Child, message: GatewayToSupervisor) -> None:
        match message:
            case Heartbeat():
                pass
            case GatewayHello(local_url=local_url):
                if local_url:
                    log.info("local Discord: open %s to chat with your sessions", local_url)
                child.connected = True
                self._gateway_connected = True
                self.gateway_problems.clear()  # a new gateway reports afresh
                child.policy.ready()
                await self._send(child, self.session_map())
                assert self.inbox is not None
                for reply in self.inbox.unposted_replies():
                    await self._send(child, reply)
                for choice in self._open_choices.values():
                    await self._send(child, choice)
            case GatewayProblem(text=text, channel_id=channel_id):
                if text:
                    log.error("gateway: %s", text)
                    self.gateway_problems[channel_id] = text
                else:
                    self.gateway_problems.pop(channel_id, None)
            case ChoiceAnswer(session=session, request_id=request_id):
                self._open_choices.pop(request_id, None)
                worker = self.children.get(f"session-{session}")
                if worker is None or not await self._send(worker, message):
                    log.warning(
                        "answer to %s for session %d could not be delivered", request_id, session
                    )
            case ReplyPosted(reply_id=reply_id, ok=ok, error=error):
                assert self.inbox is not None
                self.inbox.mark_posted(reply_id)
                if not ok:
                    log.warning("reply %s could not be posted: %s", reply_id, error)
            case Inbound():
                await self._on_inbound([message])
            case _:
                assert_never(message)

    async def _on_worker(self, child: Child, message: WorkerToSupervisor) -> None:
        session = getattr(message, "session", child.session)
        if session != child.session:
            log.warning(
                "%s sent %s for session %s: dropped (a worker speaks only for its own)",
                child.name,
                type(message).__name__,
                session,
            )
            return
        match message:
            case Heartbeat():
                pass
            case WorkerHello(ready=ready, claude_state=state):
                child.connected = True
                child.claude_state = state
                for waiter in child.hello_waiters:
                    if not waiter.done():
                        waiter.set_result(None)
                child.hello_waiters.clear()
                if ready:
                    child.policy.ready()
                    await self._deliver_open(child)
            case ClaudeStatus(state=state, pane_pid=pane_pid):
                if state != child.claude_state and child.session in self.sessions:
                    # Typing while Claude works; not while it waits for the channel.
                    await self.send_gateway(
                        Typing(channel_id=self.sessions[child.session], active=state == "busy")
                    )
                child.claude_state = state
                self.monitor.note_pane(child.session, pane_pid)
            case DeliveryUpdate():
                await self._on_delivery_update(message)
            case TurnEnded():
                await self._on_turn_ended(child, message)
            case ChoiceRequest() | ToolProgress():
                await self._to_channel(message)
            case _:
                assert_never(message)

    async def _on_inbound(self, batch: list[Inbound]) -> None:
        assert self.inbox is not None
        accepted = [m for m in batch if m.session in self.sessions]
        added = self.inbox.add_messages((m.session, m.message) for m in accepted)
        gateway = self.children[GATEWAY]
        gateway.last_seen = self.clock()
        for message in batch:
            await self._send(
                gateway, InboundAck(seq=message.seq, message_id=message.message.message_id)
            )
        for message, new in zip(accepted, added, strict=True):
            if new:
                chat = message.message
                log.info(
                    "session %d <- %s: %s",
                    message.session,
                    chat.author.name,
                    _preview(chat.content),
                )
                worker = self.children.get(f"session-{message.session}")
                if worker is not None and worker.taking_messages:
                    await self._send(worker, Deliver(message=message.message))
        for message in batch:
            if message.session not in self.sessions:
                log.warning(
                    "message %d for unknown session %d dropped",
                    message.message.message_id,
                    message.session,
                )

    async def _deliver_open(self, child: Child) -> None:
        assert self.inbox is not None and child.session is not None
        for chat, _stage in self.inbox.open_messages(child.session):
            await self._send(child, Deliver(message=chat))
        child.taking_messages = True

    async def _on_delivery_update(self, update: DeliveryUpdate) -> None:
        assert self.inbox is not None
        self.inbox.set_stage(update.message_id, update.stage)
        if update.stage == "accepted":
            self.monitor.prompt_accepted(update.session, update.message_id)
        channel = self.inbox.channel_of(update.message_id)
        if channel is not None:
            await self.send_gateway(
                PromptProgress(
                    channel_id=channel,
                    message_id=update.message_id,
                    stage=update.stage,
                    detail=update.detail,
                )
            )

    async def _on_turn_ended(self, child: Child, turn: TurnEnded) -> None:
        """Persist the answer (and the messages' end), then acknowledge to the worker."""
        assert self.inbox is not None
        self.monitor.turn_ended(turn.session, turn.message_ids)
        for message_id in turn.message_ids:
            self.inbox.set_stage(message_id, "done")
        channel = self.sessions.get(turn.session)
        text = turn.text
        if turn.interrupted and not text:
            text = (
                "⚠️ Claude restarted during this turn: your message is in its conversation,"
                " but the answer was lost. Ask again to continue."
            )
        if channel is not None and text.strip():
            reply = PostReply(
                reply_id=f"s{turn.session}-{turn.turn_id}",
                channel_id=channel,
                text=text,
                reference_message_id=turn.message_ids[-1] if turn.message_ids else None,
                turn_id=turn.turn_id,
            )
            if self.inbox.add_reply(reply):
                log.info("session %d -> %s", turn.session, _preview(text))
                await self.send_gateway(reply)
        await self._send(child, TurnAck(turn_id=turn.turn_id))

    async def _to_channel(self, message: ChoiceRequest | ToolProgress) -> None:
        """A worker's request or progress, addressed to its session's channel, to the gateway."""
        channel = self.sessions.get(message.session)
        if channel is None:
            return
        addressed = msgspec.structs.replace(message, channel_id=channel)
        if isinstance(addressed, ChoiceRequest):
            # Re-offered if the gateway restarts before someone answers.
            self._open_choices[addressed.request_id] = addressed
        await self.send_gateway(addressed)

    async def interrupt(self, session: int) -> bool:
        worker = self.children.get(f"session-{session}")
        return worker is not None and worker.connected and await self._send(worker, Interrupt())

    def _alert(self, session: int, text: str, icon: str = "⚠️") -> None:
        channel = self.sessions.get(session)
        if channel is None or self.inbox is None:
            return
        reply = PostReply(
            reply_id=f"alert-{session}-{time.time_ns()}", channel_id=channel, text=f"{icon} {text}"
        )
        if self.inbox.add_reply(reply):
            self.background.spawn(self.send_gateway(reply))

    def session_map(self) -> SessionMap:
        discord = self.config.file.discord
        last = self.inbox.last_message_ids() if self.inbox is not None else {}
        return SessionMap(
            routes=[self._route(s, c, last.get(c, 0)) for s, c in sorted(self.sessions.items())],
            default_session=discord.default_session,
            route_unmapped=discord.route_unmapped == "default",
        )

    def _route(self, session: int, channel: int, last_message_id: int) -> Route:
        """A session's route, with its own allow lists when vai.toml gives it some."""
        own = self.config.file.discord.session_overrides(session)
        users = None if own is None else own.allowed_users
        roles = None if own is None else own.allowed_roles
        return Route(
            session=session,
            channel_id=channel,
            last_message_id=last_message_id,
            allowed_users=None if users is None else tuple(users),
            allowed_roles=None if roles is None else tuple(roles),
        )

    # -- live session changes (used by the control API) ---------------------------------------

    async def start_session(self, session: int, channel_id: int) -> Child:
        self.sessions[session] = channel_id
        if self.inbox is not None:
            self.inbox.start_cursor(channel_id, snowflake_at(time.time()))
        self.layout.session_attachments(session).mkdir(mode=0o700, parents=True, exist_ok=True)
        child = self._add_child(f"session-{session}", session)
        await self._act(child, child.policy.start("added"))
        await self.send_gateway(self.session_map())
        return child

    async def end_session(self, session: int) -> None:
        child = self.children.pop(f"session-{session}", None)
        self.sessions.pop(session, None)
        if child is not None:
            await self._send(child, Shutdown(stop_claude=True))
            await self._stop_child(child, self.config.file.supervisor.stop_grace)
        await asyncio.to_thread(
            kill_session, self.config.tmux_socket, self.layout.run_dir, tmux_session_name(session)
        )
        self.monitor.session_removed(session)
        await self.send_gateway(self.session_map())

    async def recover(self, session: int) -> Child | None:
        """Restart a session's worker now, whatever its state; clears FATAL."""
        child = self.children.get(f"session-{session}")
        if child is None:
            return None
        process, child.process = child.process, None  # its exit is no longer news
        if process is not None:
            child.policy.stop("recover")
            await process.stop(self.config.file.supervisor.stop_grace)
            child.policy.exited("stopped for recovery")
        await self._act(child, child.policy.start("recover"))
        return child

    def open_message_count(self, session: int) -> int:
        return 0 if self.inbox is None else self.inbox.queued(session)


def _preview(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
