"""The hub's end of the link to its host agents: one ROUTER over TCP with CURVE.

Each host agent keeps one DEALER connected here. The gate (common/bus_auth.py, in a
context of its own: ZAP is one handler per context) admits only the keys registered in
`[hub.hosts.NAME]`, and names each frame with its host (the User-Id), so a host is who
its key says, whatever routing identity it picks; a host then speaks only for the
sessions placed on it (anything else is refused and logged).

Each host has a reliable channel (channel.py: exactly once, in order, across drops and
restarts) and a liveness (liveness.py). A host whose link goes down leaves its sessions
not taking messages: what arrives for them waits in the inbox, as for a stopped worker.
When the link comes back (or the host restarted) the hub sends the host its placement;
the host answers with its workers' hellos, and the switchboard sends each ready worker
its backlog, in order, then live traffic: the same gate as a local worker's READY.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

import msgspec
import zmq
import zmq.asyncio

from vai.common.atomic import write_atomic
from vai.common.bus import router_socket
from vai.common.bus_auth import BusGate, peer_name, watch_handshakes
from vai.common.outbox import prune_outbox
from vai.common.uploads import safe_filename
from vai.protocol.codec import ProtocolError, encode
from vai.protocol.framing import routed_frame
from vai.protocol.host_link import (
    FRAMES,
    FROM_HOST,
    FromWorker,
    HostAlert,
    HostHello,
    HostReport,
    HubToHost,
    LinkFrame,
    Placement,
    PostFile,
    RecoverWorker,
    SessionReport,
    ToWorker,
    encode_link,
)
from vai.protocol.links import FROM_WORKER, SupervisorToWorker
from vai.protocol.messages import ClaudeStatus, PostReply
from vai.supervisor.config import Config
from vai.supervisor.hub.channel import ReliableChannel
from vai.supervisor.hub.keys import load_or_create
from vai.supervisor.hub.liveness import LinkLiveness
from vai.supervisor.hub.placement import Placement as SessionPlacement
from vai.supervisor.interfaces import ChildReading
from vai.supervisor.switchboard import Send, Switchboard

log = logging.getLogger("supervisor")

SendAll = Callable[[Iterable[Send]], Awaitable[bool]]


@dataclass
class HostLink:
    """What the hub knows of one host agent."""

    name: str
    channel: ReliableChannel
    liveness: LinkLiveness
    identity: bytes | None = None
    reports: dict[int, SessionReport] = field(default_factory=dict)


class HubLink:
    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float],
        switchboard: Switchboard,
        placement: SessionPlacement,
        send_all: SendAll,
        post: Callable[[PostReply], Awaitable[bool]],
    ) -> None:
        self.config = config
        self.clock = clock
        self.switchboard = switchboard
        self.placement = placement
        self.send_all = send_all
        self.post = post
        self.context = zmq.asyncio.Context()
        section = config.file.hub
        self.hosts = {
            name: HostLink(
                name,
                ReliableChannel(clock),
                LinkLiveness(clock, section.heartbeat_interval, section.liveness),
            )
            for name in section.hosts
        }
        self.gate: BusGate | None = None
        self.socket: zmq.asyncio.Socket | None = None
        self.wake = asyncio.Event()

    # -- opening ---------------------------------------------------------------------------

    def open(self) -> None:
        """The hub's keypair (made at the first start), the hosts' keys, the socket."""
        keys, made = load_or_create(self.config.layout.hub_key)
        if made:
            log.info("hub: made its keypair in %s", self.config.layout.hub_key)
        log.info("hub: public key %s (hosts set it as hub_public_key)", keys.public.decode())
        self.gate = BusGate(self.context, log, keys)
        for name, host in self.config.file.hub.hosts.items():
            self.gate.admit(host.public_key.encode(), name)
        self.gate.start()
        self.socket = router_socket(self.context, self.config.file.hub.listen, self.gate)
        log.info(
            "hub: listening on %s for %d host(s): %s",
            self.config.file.hub.listen,
            len(self.hosts),
            ", ".join(sorted(self.hosts)) or "none",
        )

    def close(self) -> None:
        if self.gate is not None:
            self.gate.stop()
        if self.socket is not None:
            self.socket.close(linger=0)
        self.context.term()

    # -- what the supervisor asks ----------------------------------------------------------

    def places(self, session: int) -> bool:
        return self.placement.is_remote(session)

    def host_up(self, name: str) -> bool:
        host = self.hosts.get(name)
        return host is not None and host.liveness.up

    async def send(self, session: int, message: SupervisorToWorker) -> bool:
        """To a remote session's worker through its host; False when the link is down
        (the frame is kept and resent when it is back)."""
        name = self.placement.host_of(session)
        sent = await self._send(name, ToWorker(session=session, frame=encode(message)))
        return sent and self.switchboard.peer(session).connected

    async def recover(self, session: int) -> bool:
        """Ask the session's host to restart its worker; False when its link is down."""
        return await self._send(self.placement.host_of(session), RecoverWorker(session=session))

    async def replace(self, name: str) -> None:
        """The sessions placed on `name` changed: tell the host (it starts or ends them)."""
        if name in self.hosts:
            await self._resync(self.hosts[name])

    def reading(self, session: int) -> ChildReading:
        name = self.placement.host_of(session)
        host = self.hosts.get(name)
        peer = self.switchboard.peer(session)
        if host is None:
            return ChildReading(detail=f"host {name} is not registered in [hub.hosts]")
        if not host.liveness.up:
            return ChildReading(detail=f"HOST DOWN ({name})", claude_state="unknown")
        report = host.reports.get(session, SessionReport(session=session))
        state = report.state if report.state in PROCESS_STATES else "STOPPED"
        # No pid: it is a process of another machine, and the monitor and `vai status`
        # would read the memory of whatever local process has that number.
        return ChildReading(
            state=state,  # type: ignore[arg-type]
            connected=peer.connected,
            uptime_s=report.uptime_s,
            detail=report.detail,
            claude_state=peer.claude_state,
        )

    # -- the loops -------------------------------------------------------------------------

    async def serve(self) -> None:
        assert self.socket is not None
        while True:
            frames = await self.socket.recv_multipart(copy=False)
            try:
                identity, body = routed_frame(frames)
            except ProtocolError as exc:
                log.warning("hub: dropped a malformed frame: %s", exc)
                continue
            name = peer_name(body)
            host = self.hosts.get(name or "")
            if host is None:  # the gate admitted it, so this is a revoked or renamed key
                log.warning("hub: frame from an unknown host %r dropped", name)
                continue
            try:
                frame = FRAMES.decode(body.bytes)
            except ProtocolError as exc:
                log.warning("hub: dropped a malformed frame from host %s: %s", host.name, exc)
                continue
            await self._received(host, identity.bytes, frame)

    async def _received(self, host: HostLink, identity: bytes, frame: LinkFrame) -> None:
        reconnected = identity != host.identity
        host.identity = identity
        came_up = host.liveness.heard()
        received = host.channel.receive(frame)
        if came_up or received.peer_restarted:
            why = "restarted" if received.peer_restarted else "connected"
            log.info("hub: host %s %s", host.name, why)
            await self._resync(host)
        elif reconnected:
            await self._resend(host, host.channel.resend_all())
        for body in received.bodies:
            try:
                payload = FROM_HOST.decode(body)
            except ProtocolError as exc:
                log.warning("hub: dropped a malformed payload from host %s: %s", host.name, exc)
                continue
            await self._payload(host, payload)

    async def _payload(
        self, host: HostLink, payload: FromWorker | HostHello | HostAlert | PostFile | HostReport
    ) -> None:
        match payload:
            case HostHello(pid=pid):
                log.info("hub: host %s agent pid %d", host.name, pid)
            case HostReport(sessions=reports):
                host.reports = {r.session: r for r in reports if self._owns(host, r.session)}
            case FromWorker(session=session, frame=frame) if self._speaks_for(host, session):
                try:
                    message = FROM_WORKER.decode(frame)
                except ProtocolError as exc:
                    log.warning("hub: host %s, session %d: %s", host.name, session, exc)
                    return
                if isinstance(message, ClaudeStatus) and message.pane_pid is not None:
                    # A process of another machine: the monitor must not measure it here.
                    message = msgspec.structs.replace(message, pane_pid=None)
                await self.send_all(self.switchboard.from_worker(session, message))
            case HostAlert(session=session) if self._speaks_for(host, session):
                await self.send_all(self.switchboard.alert(session, payload.text, payload.icon))
            case PostFile(session=session) if self._speaks_for(host, session):
                await self._post_file(payload)
            case _:
                pass  # refused by _speaks_for, logged there

    def _owns(self, host: HostLink, session: int) -> bool:
        return session in self.switchboard.sessions() and (
            self.placement.host_of(session) == host.name
        )

    def _speaks_for(self, host: HostLink, session: int) -> bool:
        if self._owns(host, session):
            return True
        placed = self.placement.host_of(session) if session in self.switchboard.sessions() else ""
        log.warning(
            "hub: host %s tried to speak for session %d (%s): refused, a host speaks only"
            " for its own sessions",
            host.name,
            session,
            f"placed on {placed}" if placed else "no such session",
        )
        return False

    async def _post_file(self, post: PostFile) -> None:
        """`dp --file` on a host: the bytes land in the hub's outbox, the gateway posts them."""
        channel = self.switchboard.sessions()[post.session]
        path = ""
        if post.data:
            remote_files = self.config.layout.state_dir / "remote_files"
            await asyncio.to_thread(prune_outbox, remote_files)  # posted a day ago: gone
            outbox = remote_files / uuid.uuid4().hex
            outbox.mkdir(mode=0o700, parents=True)
            target = outbox / safe_filename(post.filename)
            await asyncio.to_thread(write_atomic, target, post.data, 0o600)
            path = str(target)
        reply = PostReply(
            reply_id=f"dp-{uuid.uuid4().hex}", channel_id=channel, text=post.text, file_path=path
        )
        await self.post(reply)

    async def tick(self) -> None:
        """Heartbeats, resends and liveness for every host, forever."""
        while True:
            for host in self.hosts.values():
                if host.liveness.expired():
                    self._down(host)
                if host.identity is None:
                    continue
                due = host.channel.resend_due()
                if due:
                    await self._resend(host, due)
                elif host.liveness.heartbeat_due():
                    await self._put(host, host.channel.heartbeat())
            deadlines = [h.liveness.next_deadline() for h in self.hosts.values()]
            deadlines += [d for h in self.hosts.values() if (d := h.channel.next_resend())]
            timeout = max(0.01, min(deadlines, default=self.clock() + 1.0) - self.clock())
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout)

    async def watch(self) -> None:
        assert self.socket is not None
        await watch_handshakes(self.socket, log)

    # -- internals -------------------------------------------------------------------------

    def _down(self, host: HostLink) -> None:
        silence = self.clock() - host.liveness.last_heard
        log.warning(
            "hub: host %s is down (no frame for %.1fs): its sessions' messages wait in the inbox",
            host.name,
            silence,
        )
        for session in self.placement.on(host.name, self.switchboard.sessions()):
            self.switchboard.peer_gone(session)

    async def _resync(self, host: HostLink) -> None:
        """The host's sessions take nothing until their workers' hellos; the host learns
        its placement (and answers with those hellos)."""
        placed = self.placement.on(host.name, self.switchboard.sessions())
        for session in placed:
            self.switchboard.peer_gone(session)
        records = self.switchboard.settings()
        settings = {s: records[s] for s in placed if s in records}
        await self._send(host.name, Placement(sessions=placed, settings=settings))

    async def _send(self, name: str, payload: HubToHost) -> bool:
        host = self.hosts.get(name)
        if host is None:
            log.warning("hub: no host %s in [hub.hosts]: %s not sent", name, type(payload).__name__)
            return False
        frame = host.channel.send(encode_link(payload))
        if not host.liveness.up:
            return False
        return await self._put(host, frame)

    async def _resend(self, host: HostLink, frames: list[LinkFrame]) -> None:
        for frame in frames:
            if not await self._put(host, frame):
                return

    async def _put(self, host: HostLink, frame: LinkFrame) -> bool:
        if self.socket is None or host.identity is None:
            return False
        try:
            await self.socket.send_multipart([host.identity, encode_link(frame)])
        except zmq.ZMQError as exc:
            if exc.errno != zmq.EHOSTUNREACH:
                raise
            return False
        host.liveness.sent()
        return True


PROCESS_STATES = {"STOPPED", "STARTING", "RUNNING", "BACKOFF", "STOPPING", "EXITED", "FATAL"}
