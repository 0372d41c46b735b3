"""The supervisor process: builds its parts, runs their loops, stops them in order.

One asyncio loop. The parts, each in its own module:
- children.py: the supervised processes (spawn, watch, restart, stop) under ProcessPolicy;
- bus.py: the ROUTER the gateway and the workers connect to, each with the keys it was
  given at spawn (common/bus_auth.py's gate refuses every other peer); it decodes and sends;
- switchboard.py: routing, with no I/O of its own; the inbox (inbox.py) keeps what it must;
- live_sessions.py: add, remove and recover (session_changes.py's rules), for the control
  API (control.py);
- monitor.py: figures, thresholds and alerts;
- reload.py: what `vai reload` and SIGHUP apply live.
systemd hears READY=1 once all this serves, and a STATUS= line on every state change.
The supervisor itself is what the control API and the monitor see of it through the
narrow interfaces of interfaces.py: readings, an alert sink, the operations on sessions.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path

import msgspec
import zmq
import zmq.asyncio

from vai.common.bus_auth import watch_handshakes
from vai.common.errors import BridgeError
from vai.common.tasks import Background
from vai.common.tmux import tmux_run
from vai.protocol.layout import snowflake_at
from vai.protocol.messages import InterruptResult, PostReply
from vai.protocol.session_settings import SessionSettings
from vai.protocol.usage import UsageTotals
from vai.supervisor.bus import Bus, bus_and_children
from vai.supervisor.children import Children
from vai.supervisor.config import Config, load_config, resolve_claude
from vai.supervisor.control import ControlServer
from vai.supervisor.home import claim_home, start_tmux_server
from vai.supervisor.hub.hub_side import HubSide
from vai.supervisor.inbox import Inbox
from vai.supervisor.interfaces import ChildReading
from vai.supervisor.leftovers import ChildRegistry
from vai.supervisor.live_sessions import LiveSessions
from vai.supervisor.monitor import Monitor
from vai.supervisor.notify import Health, StatusNotifier, sd_notify, status_line
from vai.supervisor.operator_stops import load_stops
from vai.supervisor.reload import plan_reload
from vai.supervisor.sessions_file import load_entries, save_entries
from vai.supervisor.switchboard import Switchboard

log = logging.getLogger("supervisor")

# The channel of session 1 when the embedded local Discord starts with no sessions.
LOCAL_DEMO_CHANNEL = 100000000000000001
# How long `/interrupt` and `vai` wait to hear how an interrupt went.
INTERRUPT_REPLY_WAIT = 8.0


class Supervisor:
    def __init__(
        self,
        config: Config,
        clock: Callable[[], float] = time.monotonic,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        # What `vai reload` reads the configuration with, as `vai run` did at start.
        self.environ = dict(os.environ if environ is None else environ)
        self.cwd = Path.cwd()
        self.layout = config.layout
        self.clock = clock
        self.started = clock()
        self.context = zmq.asyncio.Context()
        self.wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self.background = Background(log)
        self.registry = ChildRegistry(self.layout.run_dir / "children.json")
        self.monitor = Monitor(config, readings=self, alerts=self, clock=clock)
        self._lock_fd: int | None = None
        self._inbox: Inbox | None = None
        self._switchboard: Switchboard | None = None
        self._bus: Bus | None = None
        self._children: Children | None = None
        self._held: set[int] = set()
        self._status = StatusNotifier()
        self._interrupts: dict[str, asyncio.Future[InterruptResult]] = {}
        self._reloading = asyncio.Lock()
        self.hub = HubSide(config)

    # The parts made by prepare() and open_bus(); asking for one earlier is a bug.

    @property
    def inbox(self) -> Inbox:
        assert self._inbox is not None, "prepare() first"
        return self._inbox

    @property
    def switchboard(self) -> Switchboard:
        assert self._switchboard is not None, "prepare() first"
        return self._switchboard

    @property
    def bus(self) -> Bus:
        assert self._bus is not None, "open_bus() first"
        return self._bus

    @property
    def children(self) -> Children:
        assert self._children is not None, "open_bus() first"
        return self._children

    # -- start and stop ----------------------------------------------------------------------

    def prepare(self) -> None:
        """Directories, the single-instance lock, the inbox: everything before sockets."""
        # Read first: a file that cannot be used stops us before anything is made.
        entries = load_entries(self.layout.sessions_file, self.config.encryption_key)
        self._held = load_stops(self.layout)
        self.hub.load(entries)
        self._lock_fd, self.config = claim_home(self.config, self.monitor.apply_limits)
        if not entries and self.config.uses_local_discord:
            entries = {1: SessionSettings(channel_id=LOCAL_DEMO_CHANNEL)}
            save_entries(self.layout.sessions_file, entries, self.config.encryption_key)
            log.info("no sessions yet: session 1 is the local demo channel %d", LOCAL_DEMO_CHANNEL)
        self._inbox = Inbox(self.layout.inbox_db, self.config.encryption_key)
        self._switchboard = Switchboard(self._inbox, self.config.file.discord, self.monitor)
        self._switchboard.on_interrupt_result = self._interrupt_result
        for session, settings in entries.items():
            self._inbox.start_cursor(settings.channel_id, snowflake_at(time.time()))
            self._switchboard.add_session(session, settings.channel_id, settings)
        self.registry.end_leftovers(self.config.file.supervisor.stop_grace)
        self.start_tmux_server()

    def _undo_prepare(self) -> None:
        """A start that failed leaves nothing behind: no memory cgroup, no pid file."""
        self.monitor.limiter.cleanup(wait=0)
        if self._inbox is not None:
            self._inbox.close()
        if self._lock_fd is not None:
            self.layout.pid_file.unlink(missing_ok=True)
            os.close(self._lock_fd)
            self._lock_fd = None

    def start_tmux_server(self) -> None:
        start_tmux_server(self.config)

    def open_bus(self) -> None:
        """Bind the bus and set up one child per process (none started yet). Only the
        children get through its handshake, each with the keys made for it at spawn."""
        self._bus, self._children = bus_and_children(
            self.context,
            self.config,
            clock=self.clock,
            peers=self.switchboard,
            alerts=self,
            registry=self.registry,
            session_starting=self.monitor.session_starting,
            wake=self.wake,
            held=self._held & set(self.switchboard.sessions()),
            on_change=self._health_changed,
        )
        self._children.add(None)
        for session in sorted(self.switchboard.sessions()):
            if not self.hub.is_remote(session):
                self._children.add(session)
        self.hub.open(clock=self.clock, switchboard=self.switchboard, bus=self.bus, post=self.post)

    async def serve_bus(self) -> None:
        await self.bus.serve(self.children, self.switchboard, self.wake)

    def close_bus(self) -> None:
        self.hub.close()
        if self._bus is not None:
            self._bus.close()

    async def run(self) -> int:
        try:
            self.prepare()
        except BaseException:
            self._undo_prepare()
            raise
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        # Until the parts exist a SIGHUP is ignored (it used to stop the supervisor).
        loop.add_signal_handler(signal.SIGHUP, lambda: log.info("SIGHUP while starting: ignored"))
        self.open_bus()
        self.changes = changes = LiveSessions(
            self.config,
            inbox=self.inbox,
            switchboard=self.switchboard,
            children=self.children,
            send_all=self.bus.send_all,
            session_removed=self.monitor.session_removed,
            mover=self.hub.mover(
                switchboard=self.switchboard, children=self.children, send_all=self.bus.send_all
            ),
        )
        self.control = control = ControlServer(
            self.config, readings=self, memory=self.monitor, changes=changes, operations=self
        )
        self.layout.control_socket.unlink(missing_ok=True)
        control.bind(self.context)
        loop.add_signal_handler(signal.SIGHUP, self._reload_on_signal)
        log.info(
            "supervisor %d for %s: %d sessions",
            os.getpid(),
            self.layout.home,
            len(self.switchboard.sessions()),
        )
        for child in self.children:
            await self.children.start(child, "boot")
        # Up and serving: READY whatever the sessions do (their health is in STATUS=).
        sd_notify("READY=1")
        self._health_changed()
        tasks = [
            asyncio.create_task(self.serve_bus()),
            asyncio.create_task(watch_handshakes(self.bus.socket, log)),
            asyncio.create_task(control.serve()),
            asyncio.create_task(self.children.supervise()),
            asyncio.create_task(self.monitor.run()),
        ]
        tasks += self.hub.tasks()
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
            self.close_bus()
            self.context.term()
            self.inbox.close()
            # ZeroMQ leaves its ipc files behind; ours go (we hold the lock), so a clean
            # stop leaves nothing `vai doctor` would call stale.
            for path in (self.layout.control_socket, self.layout.bus_socket):
                path.unlink(missing_ok=True)
            self.layout.pid_file.unlink(missing_ok=True)
        log.info("supervisor stopped")
        return 0

    async def shutdown(self) -> None:
        """Stop every child: workers end their Claude panes, then the gateway goes."""
        await self.children.stop_all()
        tmux_run(self.config.tmux_socket, "kill-server")

    # -- what the control API and the monitor see (interfaces.py) ------------------------------

    def sessions(self) -> Mapping[int, int]:
        return self.switchboard.sessions()

    def known_sessions(self) -> Mapping[int, int]:
        """The sessions, or none before prepare(): log lines may come first."""
        return {} if self._switchboard is None else self._switchboard.sessions()

    def session_reading(self, session: int) -> ChildReading:
        if (remote := self.hub.reading(session)) is not None:
            return remote
        return self.children.reading(session)

    def gateway_reading(self) -> ChildReading:
        return self.children.reading(None)

    def host_of(self, session: int) -> tuple[str, bool]:
        return self.hub.host_of(session)

    def queued(self, session: int) -> int:
        return self.inbox.queued(session)

    def usage_totals(self) -> dict[int, UsageTotals]:
        return self.inbox.usage_totals()

    def problems(self) -> list[str]:
        return [text for _, text in sorted(self.switchboard.gateway_problems.items())]

    def uptime(self) -> float:
        return self.clock() - self.started

    def local_url(self) -> str:
        return self.switchboard.local_url

    def _health_changed(self) -> None:
        """systemd's STATUS= line, rebuilt on every state change of a child."""
        if self._children is None:
            return

        def health(session: int | None) -> Health:
            reading = self.children.reading(session)
            return Health(reading.state, reading.detail)

        sessions = {n: health(n) for n in self.switchboard.sessions() if self.children.get(n)}
        self._status.update(status_line(health(None), sessions))

    def alert(self, session: int, text: str, icon: str = "⚠️") -> None:
        sends = self.switchboard.alert(session, text, icon)  # stored now, sent when it can be
        if sends:
            self.background.spawn(self.bus.send_all(sends))

    async def interrupt(self, session: int) -> str:
        request_id = uuid.uuid4().hex
        sends = self.switchboard.interrupt(session, request_id)
        if not sends:
            return "not_running"
        answer: asyncio.Future[InterruptResult] = asyncio.get_running_loop().create_future()
        self._interrupts[request_id] = answer
        try:
            if not await self.bus.send_all(sends):
                return "not_running"
            result = await asyncio.wait_for(answer, INTERRUPT_REPLY_WAIT)
            return result.outcome
        except TimeoutError:
            return "sent"
        finally:
            self._interrupts.pop(request_id, None)

    def _interrupt_result(self, result: InterruptResult) -> None:
        answer = self._interrupts.get(result.request_id)
        if answer is not None and not answer.done():
            answer.set_result(result)

    async def reload(self) -> list[str]:
        """vai.toml and .env read again; applied where it can be (supervisor/reload.py)."""
        async with self._reloading:
            fresh = load_config(self.environ, self.cwd)
            fresh, _ = resolve_claude(fresh)
            prefix = self.monitor.limiter.command_prefix()
            if prefix:
                fresh = msgspec.structs.replace(
                    fresh, claude_command=[*prefix, *fresh.claude_command]
                )
            plan = plan_reload(self.config, fresh)
            self.config = plan.config
            self.children.config = self.changes.config = self.control.config = plan.config
            await self.monitor.reconfigure(plan.config)
            await self.bus.send_all(self.switchboard.reconfigure(plan.config.file.discord))
            lines = plan.lines()
            for line in lines:
                log.info("reload: %s", line)
            return lines

    def _reload_on_signal(self) -> None:
        """SIGHUP reloads, as `vai reload` does; a config that cannot be read is logged."""
        log.info("SIGHUP: reloading %s", self.layout.config_file)

        async def reload() -> None:
            try:
                await self.reload()
            except BridgeError as exc:
                log.error("reload failed, nothing changed: %s", exc)

        self.background.spawn(reload())

    async def post(self, reply: PostReply) -> bool:
        sends = self.switchboard.post(reply)
        return bool(sends) and await self.bus.send_all(sends)

    def stop(self) -> None:
        self.stopping.set()
