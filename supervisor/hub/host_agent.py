"""The host agent (`vai run --host`): today's supervisor for the sessions placed on this
machine, with the hub in place of the gateway and the inbox.

It spawns, watches and restarts its workers, runs the tmux server and the memory limits
exactly as a single-machine supervisor does (children.py, the same local bus with the
same per-child keys), and relays: a worker's frames go to the hub whole, through the
one reliable connection (hub_connection.py); the hub's frames go to the worker they name.
It keeps no bot token, no gateway and no inbox: what it must relay reliably waits in the
channel until the hub acks it, and the hub keeps everything else.

The hub says which sessions run here (`Placement`); on every placement the host starts
and ends workers to match and repeats each connected worker's last hello, so a hub that
lost sight of this host hands each ready worker its backlog, then live traffic.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType

import zmq
import zmq.asyncio

from vai.common.bus_auth import watch_handshakes
from vai.common.tasks import Background
from vai.common.tmux import tmux_run
from vai.protocol.codec import ProtocolError, encode
from vai.protocol.framing import routed_frame
from vai.protocol.host_link import (
    FromWorker,
    HostAlert,
    HostHello,
    HostReport,
    HubToHost,
    Placement,
    RecoverWorker,
    SessionReport,
    ToWorker,
)
from vai.protocol.links import FROM_WORKER
from vai.protocol.messages import ClaudeStatus, Heartbeat, WorkerHello
from vai.protocol.session_settings import SessionSettings
from vai.protocol.usage import UsageTotals
from vai.supervisor.bus import Bus, bus_and_children
from vai.supervisor.children import Children
from vai.supervisor.config import Config
from vai.supervisor.control import ControlServer
from vai.supervisor.home import claim_home, start_tmux_server
from vai.supervisor.hub.host_control import HostChanges, HostOperations
from vai.supervisor.hub.hub_connection import HubConnection
from vai.supervisor.interfaces import ChildReading
from vai.supervisor.leftovers import ChildRegistry
from vai.supervisor.monitor import Monitor
from vai.supervisor.notify import sd_notify
from vai.supervisor.switchboard import Peer, Worker

log = logging.getLogger("supervisor")

REPORT_EVERY = 5.0  # seconds between unchanged status reports to the hub


class HostPeers:
    """The peers as the host agent knows them: its placement and its workers' hellos
    (children.PeerBook)."""

    def __init__(self) -> None:
        self.placed: dict[int, int] = {}
        self.records: dict[int, SessionSettings] = {}
        self.gateway_problems: dict[int, str] = {}
        self._peers: dict[int, Peer] = {}
        self.hellos: dict[int, WorkerHello] = {}

    def sessions(self) -> Mapping[int, int]:
        return MappingProxyType(self.placed)

    def settings(self) -> Mapping[int, SessionSettings]:
        return MappingProxyType(self.records)

    def peer(self, session: int | None) -> Peer:
        if session is None:
            return Peer()
        return self._peers.setdefault(session, Peer())

    def peer_gone(self, session: int | None) -> None:
        if session is not None:
            self._peers.pop(session, None)
            self.hellos.pop(session, None)


class HostAgent:
    def __init__(self, config: Config, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.layout = config.layout
        self.clock = clock
        self.started = clock()
        self.context = zmq.asyncio.Context()
        self.wake = asyncio.Event()
        self.stopping = asyncio.Event()
        self.background = Background(log)
        self.peers = HostPeers()
        self.registry = ChildRegistry(self.layout.run_dir / "children.json")
        self.monitor = Monitor(config, readings=self, alerts=self, clock=clock)
        self.hub = HubConnection(
            config,
            self.context,
            clock=clock,
            on_payload=self._from_hub,
            on_connect=self._connected,
        )
        self._lock_fd: int | None = None
        self._last_report: list[SessionReport] = []
        self._reported_at = 0.0
        self.bus: Bus
        self.children: Children

    # -- start and stop ----------------------------------------------------------------------

    def prepare(self) -> None:
        self._lock_fd, self.config = claim_home(self.config, self.monitor.apply_limits)
        self.registry.end_leftovers(self.config.file.supervisor.stop_grace)
        start_tmux_server(self.config)
        self.bus, self.children = bus_and_children(
            self.context,
            self.config,
            clock=self.clock,
            peers=self.peers,
            alerts=self,
            registry=self.registry,
            session_starting=self.monitor.session_starting,
            wake=self.wake,
        )

    async def run(self) -> int:
        self.prepare()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, self.stopping.set)
        control = ControlServer(
            self.config,
            readings=self,
            memory=self.monitor,
            changes=HostChanges(self),
            operations=HostOperations(self),
        )
        self.layout.control_socket.unlink(missing_ok=True)
        control.bind(self.context)
        log.info(
            "host agent %d (%s) for %s: hub %s",
            os.getpid(),
            self.hub.name,
            self.layout.home,
            self.hub.endpoint,
        )
        tasks = [
            asyncio.create_task(self.hub.run()),
            asyncio.create_task(self.serve_local()),
            asyncio.create_task(watch_handshakes(self.bus.socket, log)),
            asyncio.create_task(control.serve()),
            asyncio.create_task(self.children.supervise()),
            asyncio.create_task(self.monitor.run()),
            asyncio.create_task(self.report()),
        ]
        sd_notify("READY=1")
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
            await self.children.stop_all()
            tmux_run(self.config.tmux_socket, "kill-server")
            await self.monitor.close()
            control.close()
            self.hub.close()
            self.bus.close()
            self.context.term()
            self.layout.pid_file.unlink(missing_ok=True)
        log.info("host agent stopped")
        return 0

    # -- the hub's side ----------------------------------------------------------------------

    async def _connected(self) -> None:
        await self.hub.send(HostHello(pid=os.getpid()))

    async def _from_hub(self, payload: HubToHost) -> None:
        match payload:
            case Placement(sessions=sessions, settings=settings):
                self.peers.records = dict(settings)
                await self._place(sessions)
            case RecoverWorker(session=session):
                if not await self.children.recover(session):
                    log.warning("recover: no session %d on this host", session)
            case ToWorker(session=session, frame=frame):
                if session in self.peers.placed and self.peers.peer(session).connected:
                    await self.bus.send_frame(Worker(session), frame)
                else:
                    log.debug("frame for session %d dropped: its worker is not here", session)

    async def _place(self, sessions: dict[int, int]) -> None:
        """Run exactly the sessions placed here, then repeat the connected workers' hellos."""
        old = dict(self.peers.placed)
        for session in sorted(set(old) - set(sessions)):
            log.info("session %d is no longer placed here: ending it", session)
            del self.peers.placed[session]
            await self.children.end(session)
            self.peers.peer_gone(session)
        for session, channel in sorted(sessions.items()):
            if old.get(session) == channel:
                continue
            self.peers.placed[session] = channel
            if session in old:  # its channel changed: a new worker for it
                await self.children.end(session)
                self.peers.peer_gone(session)
            log.info("session %d placed here: starting its worker", session)
            await self.children.start(self.children.add(session), "placed")
        for session, hello in sorted(self.peers.hellos.items()):
            if session in sessions and self.peers.peer(session).connected:
                await self.hub.send(FromWorker(session=session, frame=encode(hello)))

    # -- the workers' side -------------------------------------------------------------------

    async def serve_local(self) -> None:
        """Every worker frame: proof of life for its lifecycle, then relayed to the hub."""
        while True:
            frames = await self.bus.socket.recv_multipart(copy=False)
            try:
                identity, body = routed_frame(frames)
            except ProtocolError as exc:
                log.warning("dropped a malformed frame on the bus: %s", exc)
                continue
            sender = self.bus.sender(identity.bytes, body)
            if not isinstance(sender, Worker):
                continue
            child = self.children.get(sender.session)
            if child is None or sender.session not in self.peers.placed:
                continue
            try:
                message = FROM_WORKER.decode(body.bytes)
            except ProtocolError as exc:
                log.warning("dropped a malformed frame from %s: %s", child.name, exc)
                continue
            self.children.heard(child, message)
            self.wake.set()
            peer = self.peers.peer(sender.session)
            match message:
                case Heartbeat():
                    continue
                case WorkerHello(claude_state=state):
                    peer.connected = True
                    peer.claude_state = state
                    self.peers.hellos[sender.session] = message
                case ClaudeStatus(state=state):
                    peer.claude_state = state
                case _:
                    pass
            await self.hub.send(FromWorker(session=sender.session, frame=body.bytes))

    async def report(self) -> None:
        """The workers' states for `vai status` on the hub: on change, else now and then."""
        while True:
            reports = [self._report(s) for s in sorted(self.peers.placed)]
            now = self.clock()
            changed = [_sans_uptime(r) for r in reports] != [
                _sans_uptime(r) for r in self._last_report
            ]
            if self.hub.up and (changed or now - self._reported_at >= REPORT_EVERY):
                self._last_report, self._reported_at = reports, now
                await self.hub.send(HostReport(sessions=reports))
            await asyncio.sleep(0.5)

    def _report(self, session: int) -> SessionReport:
        reading = self.children.reading(session)
        return SessionReport(
            session=session,
            state=reading.state,
            pid=reading.pid,
            uptime_s=None if reading.uptime_s is None else round(reading.uptime_s),
            detail=reading.detail,
        )

    # -- what the control API, the monitor and the children see ------------------------------

    def alert(self, session: int, text: str, icon: str = "⚠️") -> None:
        self.background.spawn(self.hub.send(HostAlert(session=session, text=text, icon=icon)))

    def sessions(self) -> Mapping[int, int]:
        return self.peers.sessions()

    def session_reading(self, session: int) -> ChildReading:
        return self.children.reading(session)

    def gateway_reading(self) -> ChildReading:
        return ChildReading(detail="the gateway runs on the hub")

    def host_of(self, session: int) -> tuple[str, bool]:
        return self.hub.name, False

    def queued(self, session: int) -> int:
        return 0

    def usage_totals(self) -> dict[int, UsageTotals]:
        return {}  # the hub's inbox counts them

    def problems(self) -> list[str]:
        if self.hub.up:
            return []
        return [f"no link to the hub at {self.hub.endpoint}: see `vai doctor`"]

    def uptime(self) -> float:
        return self.clock() - self.started

    def local_url(self) -> str:
        return ""


def _sans_uptime(report: SessionReport) -> tuple[int, str, int | None, str]:
    return report.session, report.state, report.pid, report.detail
