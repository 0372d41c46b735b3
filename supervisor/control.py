"""The control API that `vai` and `dp` talk to: one request, one reply, over a ROUTER.

Each request is served in its own task, so a slow one (add-session waits for its worker)
never holds up `vai status`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from typing import assert_never

import zmq
import zmq.asyncio

from vai.common.bus import router_socket, send_to
from vai.common.errors import BridgeError
from vai.common.tasks import Background
from vai.common.uploads import upload_problem
from vai.protocol.codec import ProtocolError
from vai.protocol.framing import parse_routed
from vai.protocol.layout import ipc_endpoint
from vai.protocol.links import CONTROL_REQUEST, ControlReply, ControlRequest
from vai.protocol.messages import (
    AddSession,
    ErrorReply,
    InterruptSession,
    ListSessions,
    MoveSession,
    OkReply,
    PostMessage,
    PostReply,
    RecoverSession,
    ReloadConfig,
    RemoveSession,
    RestartSessions,
    SessionInfo,
    SessionsReply,
    StartSession,
    StatusReply,
    StatusRequest,
    StopAll,
    StopSession,
)
from vai.protocol.session_requests import (
    AddThreadSession,
    EndThreadSession,
    PlanSession,
    SetThreads,
)
from vai.supervisor.config import Config
from vai.supervisor.interfaces import (
    Changed,
    MemoryReadings,
    Operations,
    SessionChanges,
    StatusReadings,
)
from vai.supervisor.isolation import describe

log = logging.getLogger("supervisor.control")


class ControlServer:
    """Serves the control API from what it is given: readings, session changes and the
    operations on running sessions (supervisor/interfaces.py), never the supervisor."""

    def __init__(
        self,
        config: Config,
        *,
        readings: StatusReadings,
        memory: MemoryReadings,
        changes: SessionChanges,
        operations: Operations,
    ) -> None:
        self.config = config
        self.readings = readings
        self.memory = memory
        self.changes = changes
        self.operations = operations
        self.socket: zmq.asyncio.Socket | None = None
        self.requests = Background(log)

    def bind(self, context: zmq.asyncio.Context) -> None:
        self.socket = router_socket(context, ipc_endpoint(self.config.layout.control_socket))

    def close(self) -> None:
        if self.socket is not None:
            self.socket.close(linger=0)

    async def serve(self) -> None:
        assert self.socket is not None
        while True:
            frames = await self.socket.recv_multipart()
            try:
                identity, request = parse_routed(frames, CONTROL_REQUEST)
            except ProtocolError as exc:
                log.warning("dropped a malformed control request: %s", exc)
                continue
            self.requests.spawn(self._answer(identity, request))

    async def _answer(self, identity: bytes, request: ControlRequest) -> None:
        assert self.socket is not None
        try:
            reply = await self.handle(request)
        except BridgeError as exc:
            reply = ErrorReply(text=str(exc))
        except Exception as exc:  # the supervisor must outlive any one request
            log.exception("control request %s failed", type(request).__name__)
            reply = ErrorReply(text=f"internal error: {exc}")
        try:
            await send_to(self.socket, identity, reply)
        except zmq.ZMQError:
            log.info("control client went away before its reply")

    async def handle(self, request: ControlRequest) -> ControlReply:
        match request:
            case StatusRequest():
                return self.status()
            case ListSessions():
                return SessionsReply(sessions=self.session_infos())
            case AddSession(channel_id=channel_id, settings=settings, confined=confined):
                return done(await self.changes.add(channel_id, settings, confined=confined))
            case PlanSession(work_dir=work_dir):
                return done(await self.changes.plan(work_dir))
            case RemoveSession(session=session, purge=purge):
                return done(await self.changes.remove(session, purge))
            case RecoverSession(session=session):
                return done(await self.changes.recover(session))
            case RestartSessions(session=session):
                return done(await self.changes.restart(session))
            case StopSession(session=session):
                return done(await self.changes.stop(session))
            case StartSession(session=session):
                return done(await self.changes.start(session))
            case ReloadConfig():
                return OkReply(text="\n".join(await self.operations.reload()))
            case MoveSession(session=session, host=host):
                return done(await self.changes.move(session, host))
            case InterruptSession(session=session):
                if session not in self.readings.sessions():
                    return ErrorReply(text=f"no session {session}")
                outcome = await self.operations.interrupt(session)
                if outcome == "not_running":
                    return ErrorReply(text=f"session {session} is not running")
                return OkReply(text=INTERRUPTED[outcome].format(session), session=session)
            case StopAll():
                asyncio.get_running_loop().call_soon(self.operations.stop)
                return OkReply(text="stopping")
            case PostMessage():
                return await self.post_message(request)
            case SetThreads(session=session, enabled=enabled):
                return done(await self.changes.set_threads(session, enabled))
            case AddThreadSession():
                return done(
                    await self.changes.add_thread(
                        request.thread_id, request.parent_channel_id, request.name, request.after
                    )
                )
            case EndThreadSession(thread_id=thread_id):
                return done(await self.changes.end_thread(thread_id))
            case _:
                assert_never(request)

    # -- requests ------------------------------------------------------------------------------

    def session_infos(self) -> list[SessionInfo]:
        infos = []
        records = self.changes.settings()
        usage = self.readings.usage_totals()
        for session, channel in sorted(self.readings.sessions().items()):
            settings = records.get(session)
            child = self.readings.session_reading(session)
            pid = child.pid if child.connected else None
            claude_pid, memory = self.memory.session_memory(session, pid)
            host, host_down = self.readings.host_of(session)
            infos.append(
                SessionInfo(
                    session=session,
                    channel_id=channel,
                    work_dir=(settings and settings.work_dir) or self.config.claude_work_dir,
                    state=child.state,
                    pid=pid,
                    uptime_s=child.uptime_s,
                    claude_state=child.claude_state,
                    queued=self.readings.queued(session),
                    memory_bytes=memory,
                    detail=child.detail,
                    claude_pid=claude_pid,
                    host=host,
                    host_down=host_down,
                    settings=settings,
                    usage=usage.get(session),
                )
            )
        return infos

    def status(self) -> StatusReply:
        gateway = self.readings.gateway_reading()
        return StatusReply(
            supervisor_pid=os.getpid(),
            uptime_s=self.readings.uptime(),
            gateway_state=gateway.state,
            gateway_pid=gateway.pid,
            sessions=self.session_infos(),
            problems=self.readings.problems(),
            isolation=describe(self.config.file.claude, self.readings.sessions()),
            local_url=self.readings.local_url(),
        )

    async def post_message(self, request: PostMessage) -> ControlReply:
        channel = request.channel_id
        if request.session is not None:
            channel = self.readings.sessions().get(request.session)
            if channel is None:
                return ErrorReply(text=f"no session {request.session}")
        if channel is None:
            return ErrorReply(text="say which session or channel to post to")
        if not request.text.strip() and not request.file_path:
            return ErrorReply(text="nothing to post: give a message or --file")
        if request.file_path:
            problem = upload_problem(request.file_path, self.config.file.discord.max_upload_bytes)
            if problem:
                return ErrorReply(text=problem)
        reply = PostReply(
            reply_id=f"dp-{uuid.uuid4().hex}",
            channel_id=channel,
            text=request.text,
            file_path=request.file_path,
        )
        sent = await self.operations.post(reply)
        queued = "" if sent else " (queued until the gateway is connected)"
        return OkReply(text=f"posted to channel {channel}{queued}")


INTERRUPTED = {
    "stopped": "Session {0} interrupted: Claude stopped its turn",
    "nothing": "Session {0} is idle: nothing to interrupt",
    "gave_up": "Session {0}: Escape sent, but Claude did not stop (see `vai attach {0}`)",
    "dead": "Session {0}: Claude is not running, nothing to interrupt",
    "sent": "Session {0}: interrupt sent (no word back from the worker yet)",
}


def done(change: Changed) -> OkReply:
    return OkReply(text=change.text, session=change.session)
