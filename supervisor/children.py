"""The supervised processes: spawning, watching, restarting and stopping them.

One Child per process: the gateway and one worker per session. ProcessPolicy decides and
this module acts: it spawns what the policy asks for, reports each exit back to it (an
EXIT_CONFIG exit as one restarting cannot fix), ends a child that stays silent, and runs
the pass that advances the policies' timers and sends heartbeats, and calls `on_change`
on every state change (systemd's STATUS= line). A session that goes FATAL says so in its
channel, and so does its return. A session the operator stopped (operator_stops.py) is
neither started at boot nor restarted until the operator starts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from vai.common.backoff import Backoff
from vai.common.bus_auth import ClientKeys
from vai.common.child_secrets import ChildSecrets, secrets_pipe
from vai.common.exit_codes import EXIT_CONFIG
from vai.common.tasks import Background
from vai.protocol.links import GatewayToSupervisor, WorkerToSupervisor
from vai.protocol.messages import GatewayHello, Heartbeat, Shutdown, WireMessage, WorkerHello
from vai.supervisor.child_process import ChildProcess, describe_exit
from vai.supervisor.config import Config
from vai.supervisor.interfaces import AlertSink, ChildReading
from vai.supervisor.leftovers import ChildRegistry
from vai.supervisor.notify import sd_notify, watchdog_interval
from vai.supervisor.operator_stops import STOPPED_DETAIL
from vai.supervisor.peer_book import PeerBook
from vai.supervisor.process_policy import Action, ProcessPolicy, State, Transition, wire_state
from vai.supervisor.spawn_specs import gateway_command, worker_command
from vai.supervisor.switchboard import GATEWAY, Destination, Worker

log = logging.getLogger("supervisor")

GATEWAY_NAME = "gateway"
# Missed heartbeats before a live but silent child counts as hung.
CHILD_LIVENESS = 5
# Before its first frame a child is still starting (imports on a busy machine): silence
# counts as a hang only after this long.
FIRST_FRAME_GRACE = 10.0

SendFunction = Callable[[Destination, WireMessage], Awaitable[bool]]
# The bus's admission of a process about to start (its keys), and its end.
AdmitFunction = Callable[[Destination], ClientKeys]
ForgetFunction = Callable[[ClientKeys], None]


def child_name(session: int | None) -> str:
    return GATEWAY_NAME if session is None else f"session-{session}"


@dataclass
class Child:
    """One supervised process and what its lifecycle needs to know of it."""

    name: str
    session: int | None
    policy: ProcessPolicy
    process: ChildProcess | None = None
    last_seen: float = 0.0
    heard_from: bool = False  # a frame arrived from this process
    hello_waiters: list[asyncio.Future[None]] = field(default_factory=list)

    @property
    def destination(self) -> Destination:
        return GATEWAY if self.session is None else Worker(self.session)


class Children:
    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float],
        switchboard: PeerBook,
        send: SendFunction,
        admit: AdmitFunction,
        forget: ForgetFunction,
        alerts: AlertSink,
        registry: ChildRegistry,
        session_starting: Callable[[int], None],
        wake: asyncio.Event,
        held: set[int] | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.switchboard = switchboard
        self.send = send
        self.admit = admit
        self.forget = forget
        self.alerts = alerts
        self.registry = registry
        self.session_starting = session_starting
        self.wake = wake
        self.background = Background(log)
        self._children: dict[int | None, Child] = {}
        # Sessions announced as stopped (FATAL): their return to RUNNING is announced too.
        self._troubled: set[int] = set()
        # Stopped by the operator: not started, not restarted, until started by the operator.
        self.held: set[int] = set(held or ())
        self.on_change = on_change
        self._all_running_logged = False

    def __iter__(self) -> Iterator[Child]:
        return iter(list(self._children.values()))

    def get(self, session: int | None) -> Child | None:
        """The gateway (None) or a session's worker."""
        return self._children.get(session)

    def reading(self, session: int | None) -> ChildReading:
        child = self._children.get(session)
        peer = self.switchboard.peer(session)
        if child is None:
            return ChildReading()
        return ChildReading(
            state=wire_state(child.policy.state),
            pid=child.process.pid if child.process is not None else None,
            connected=peer.connected,
            uptime_s=child.policy.uptime(),
            detail=child.policy.last_reason,
            claude_state=peer.claude_state,
        )

    # -- adding, starting, stopping ------------------------------------------------------------

    def add(self, session: int | None) -> Child:
        sup = self.config.file.supervisor
        name = child_name(session)
        child = Child(
            name=name,
            session=session,
            policy=ProcessPolicy(
                clock=self.clock,
                start_retries=sup.start_retries,
                start_secs=min(sup.start_secs, 0.5) if session is None else sup.start_secs,
                quiet_period=sup.quiet_period,
                backoff=Backoff(base=sup.backoff_base, cap=sup.backoff_max, jitter=0.1),
                on_transition=lambda change: self._moved(name, session, change),
            ),
        )
        self._children[session] = child
        return child

    async def start(self, child: Child, reason: str) -> None:
        if child.session in self.held:
            child.policy.last_reason = STOPPED_DETAIL
            self.on_change()
            return
        await self.act(child, child.policy.start(reason))

    async def act(self, child: Child, action: Action) -> None:
        if action is Action.SPAWN:
            await self._spawn(child)
        elif action is Action.KILL and child.process is not None:
            await child.process.stop(self.config.file.supervisor.stop_grace)

    async def stop(self, child: Child, reason: str) -> None:
        child.policy.stop(reason)
        if child.process is not None:
            await child.process.stop(self.config.file.supervisor.stop_grace)

    async def end(self, session: int) -> None:
        """A removed session: its worker ends Claude's pane, then goes."""
        child = self._children.pop(session, None)
        if child is not None:
            await self.send(child.destination, Shutdown(stop_claude=True))
            await self.stop(child, "session removed")
        self._troubled.discard(session)
        self.held.discard(session)

    async def stop_all(self) -> None:
        """Every worker ends its Claude pane and stops, then the gateway goes."""
        workers = [c for c in self._children.values() if c.session is not None]
        for child in workers:
            await self.send(child.destination, Shutdown(stop_claude=True))
        await asyncio.gather(*(self.stop(child, "supervisor stopping") for child in workers))
        gateway = self._children.get(None)
        if gateway is not None:
            await self.stop(gateway, "supervisor stopping")

    async def recover(self, session: int) -> bool:
        """Restart a session's worker now, whatever its state; clears FATAL."""
        child = self._children.get(session)
        if child is None:
            return False
        process, child.process = child.process, None  # its exit is no longer news
        if process is not None:
            child.policy.stop("recover")
            await process.stop(self.config.file.supervisor.stop_grace)
            child.policy.exited("stopped for recovery")
        await self.start(child, "recover")
        return True

    async def restart(self, child: Child, stop_claude: bool, reason: str) -> None:
        """Stop the child now, whatever its state (a worker ends Claude's pane first when
        `stop_claude`), then start it again; clears FATAL."""
        process, child.process = child.process, None  # its exit is no longer news
        if process is not None:
            child.policy.stop(reason)
            if stop_claude and child.session is not None:
                await self.send(child.destination, Shutdown(stop_claude=True))
                # Its own way out ends Claude's pane; SIGTERM only if it takes too long.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(process.wait(), self.config.file.supervisor.stop_grace)
            await process.stop(self.config.file.supervisor.stop_grace)
            child.policy.exited(f"stopped for {reason}")
        await self.start(child, reason)

    async def hold(self, session: int) -> bool:
        """The operator stops a session: its worker ends Claude's pane and stops, and the
        session stays STOPPED until `release`. False for an unknown session."""
        child = self._children.get(session)
        if child is None:
            return False
        self.held.add(session)
        self._troubled.discard(session)
        process, child.process = child.process, None
        child.policy.stop(STOPPED_DETAIL)
        if process is not None:
            await self.send(child.destination, Shutdown(stop_claude=True))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), self.config.file.supervisor.stop_grace)
            await process.stop(self.config.file.supervisor.stop_grace)
            child.policy.exited(STOPPED_DETAIL)
        self.switchboard.peer_gone(session)
        child.policy.last_reason = STOPPED_DETAIL
        self.on_change()
        return True

    async def release(self, session: int) -> bool:
        """The operator starts a stopped session again; False for an unknown session."""
        child = self._children.get(session)
        if child is None:
            return False
        self.held.discard(session)
        await self.start(child, "started by operator")
        return True

    @staticmethod
    def hello_waiter(child: Child) -> asyncio.Future[None]:
        """Done at the child's next hello on the bus (take it before starting the child)."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        child.hello_waiters.append(waiter)
        return waiter

    # -- what the bus hears --------------------------------------------------------------------

    def heard(self, child: Child, message: GatewayToSupervisor | WorkerToSupervisor) -> None:
        """Any frame proves the child alive; its hello says whether it is ready."""
        child.last_seen = self.clock()
        child.heard_from = True
        match message:
            case GatewayHello() if child.session is None:
                child.policy.ready()
                self._hello(child)
            case WorkerHello(session=session, ready=ready) if session == child.session:
                if ready:
                    child.policy.ready()
                self._hello(child)
            case _:
                pass

    @staticmethod
    def _hello(child: Child) -> None:
        for waiter in child.hello_waiters:
            if not waiter.done():
                waiter.set_result(None)
        child.hello_waiters.clear()

    # -- processes -----------------------------------------------------------------------------

    async def _spawn(self, child: Child) -> None:
        """Start the child with its secrets in an inherited pipe: its bus keys, and for the
        gateway the bot token (common/child_secrets.py)."""
        layout = self.config.layout
        keys = self.admit(child.destination)
        token = (self.config.token or "") if child.session is None else ""
        with secrets_pipe(ChildSecrets(bus=keys, bot_token=token)) as secrets_fd:
            if child.session is None:
                argv, env = gateway_command(self.config, secrets_fd)
                log_path = layout.process_log(GATEWAY_NAME)
            else:
                channel = self.switchboard.sessions()[child.session]
                self.session_starting(child.session)
                record = self.switchboard.settings().get(child.session)
                work = record.work_dir if record is not None else ""  # its own, or the global one
                argv, env = worker_command(self.config, child.session, channel, secrets_fd, work)
                log_path = layout.session_log(child.session)
            process = ChildProcess(child.name, argv, env, log_path, bus_keys=keys)
            child.process = process
            self.switchboard.peer_gone(child.session)  # nothing for it until its hello
            child.last_seen = self.clock()
            child.heard_from = False
            try:
                pid = await process.spawn(layout.root, pass_fds=(secrets_fd,))
            except OSError as exc:
                self.forget(keys)
                log.error("%s: cannot start: %s", child.name, exc)
                await self.act(child, child.policy.exited(f"spawn failed: {exc}"))
                return
        log.info("%s: started pid %d", child.name, pid)
        self.registry.record(child.name, pid)
        self.background.spawn(self._watch_exit(child, process))

    async def _watch_exit(self, child: Child, process: ChildProcess) -> None:
        code = await process.wait()
        if process.bus_keys is not None:
            self.forget(process.bus_keys)
        if process.pid is not None:
            self.registry.forget(child.name, process.pid)
        if child.process is not process:
            return
        if self._children.get(child.session) is child:  # not a removed session's old worker
            self.switchboard.peer_gone(child.session)
        how = describe_exit(code)
        log.info("%s: pid %s %s", child.name, process.pid, how)
        if code == EXIT_CONFIG:
            # A bad token or a missing intent: restarting cannot help (and piles up 401s).
            problem = self.switchboard.gateway_problems.get(0) if child.session is None else None
            tail = GATEWAY_NAME if child.session is None else str(child.session)
            how = problem or f"configuration error; see `vai tail {tail}`"
            await self.act(child, child.policy.exited_unfixable(how))
        else:
            await self.act(child, child.policy.exited(how))
        self.wake.set()

    def _moved(self, name: str, session: int | None, change: Transition) -> None:
        log.info("%s: %s -> %s (%s)", name, change.old.value, change.new.value, change.reason)
        self.on_change()
        if session is None:
            return
        if change.new is State.FATAL:
            self._troubled.add(session)  # announced as stopped: announce its return
            self.alerts.alert(
                session, f"Session {session} stopped: {change.reason}. Use `vai recover {session}`."
            )
        elif change.new is State.RUNNING and session in self._troubled:
            self._troubled.discard(session)
            self.alerts.alert(session, f"Session {session} recovered: running again.", icon="✅")

    # -- the supervision pass ------------------------------------------------------------------

    async def supervise(self) -> None:
        """Tick the policies, end silent children, send heartbeats; sleep until the next
        deadline or until something happens (an exit, a frame on the bus)."""
        interval = self.config.file.supervisor.heartbeat_interval
        watchdog = watchdog_interval()
        next_beat = next_watchdog = self.clock()
        while True:
            now = self.clock()
            if watchdog is not None and now >= next_watchdog:
                sd_notify("WATCHDOG=1")
                next_watchdog = now + watchdog
            for child in self:
                await self.act(child, child.policy.tick())
                silence = interval * CHILD_LIVENESS
                if not child.heard_from:
                    silence = max(silence, FIRST_FRAME_GRACE)
                if (
                    child.process is not None
                    and child.policy.state in (State.STARTING, State.RUNNING)
                    and now - child.last_seen > silence
                ):
                    log.warning(
                        "%s: silent for %.1fs; killing it", child.name, now - child.last_seen
                    )
                    child.last_seen = now
                    await self.act(child, child.policy.hung("no heartbeat"))
            if now >= next_beat:
                next_beat = now + interval
                for child in self:
                    if self.switchboard.peer(child.session).connected:
                        await self.send(child.destination, Heartbeat(pid=os.getpid()))
            self._log_all_running()
            deadlines = [d for c in self if (d := c.policy.next_deadline())]
            if watchdog is not None:
                deadlines.append(next_watchdog)
            timeout = max(0.0, min([next_beat, *deadlines]) - self.clock())
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)

    def _log_all_running(self) -> None:
        """Once per supervisor: the moment everything first ran (systemd's READY=1 does
        not wait for it; see notify.py)."""
        if self._all_running_logged:
            return
        if all(c.policy.state is State.RUNNING for c in self._children.values()):
            self._all_running_logged = True
            sessions = sum(1 for session in self._children if session is not None)
            log.info("all %d sessions running", sessions)
