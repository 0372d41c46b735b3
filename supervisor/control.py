"""The control API that `vai` and `dp` talk to: one request, one reply, over a ROUTER.

Each request is served in its own task, so a slow one (add-session waits for its worker)
never holds up `vai status`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
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
from vai.protocol.ids import valid_id
from vai.protocol.layout import ipc_endpoint
from vai.protocol.links import CONTROL_REQUEST, ControlReply, ControlRequest
from vai.protocol.messages import (
    AddSession,
    ErrorReply,
    InterruptSession,
    ListSessions,
    OkReply,
    PostMessage,
    PostReply,
    RecoverSession,
    RemoveSession,
    SessionInfo,
    SessionsReply,
    StatusReply,
    StatusRequest,
    StopAll,
)
from vai.supervisor.process_policy import wire_state
from vai.supervisor.server import GATEWAY, Supervisor
from vai.supervisor.sessions_file import next_session_number, save_sessions

log = logging.getLogger("supervisor.control")

ADD_SESSION_TIMEOUT = 30.0


class ControlServer:
    def __init__(self, supervisor: Supervisor) -> None:
        self.sup = supervisor
        self.socket: zmq.asyncio.Socket | None = None
        self.requests = Background(log)

    def bind(self) -> None:
        self.socket = router_socket(self.sup.context, ipc_endpoint(self.sup.layout.control_socket))

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
            case AddSession(channel_id=channel_id):
                return await self.add_session(channel_id)
            case RemoveSession(session=session, purge=purge):
                return await self.remove_session(session, purge)
            case RecoverSession(session=session):
                if await self.sup.recover(session) is None:
                    return ErrorReply(text=f"no session {session}")
                return OkReply(text=f"Session {session} restarting", session=session)
            case InterruptSession(session=session):
                if session not in self.sup.sessions:
                    return ErrorReply(text=f"no session {session}")
                if not await self.sup.interrupt(session):
                    return ErrorReply(text=f"session {session} is not running")
                return OkReply(text=f"Session {session} interrupted", session=session)
            case StopAll():
                asyncio.get_running_loop().call_soon(self.sup.stopping.set)
                return OkReply(text="stopping")
            case PostMessage():
                return await self.post_message(request)
            case _:
                assert_never(request)

    # -- requests ------------------------------------------------------------------------------

    def session_infos(self) -> list[SessionInfo]:
        infos = []
        for session, channel in sorted(self.sup.sessions.items()):
            child = self.sup.children.get(f"session-{session}")
            state = wire_state(child.policy.state) if child else "STOPPED"
            pid = child.process.pid if child and child.process and child.connected else None
            claude_pid, memory = self.sup.monitor.session_memory(session, pid)
            infos.append(
                SessionInfo(
                    session=session,
                    channel_id=channel,
                    work_dir=self.sup.config.claude_work_dir,
                    state=state,
                    pid=pid,
                    uptime_s=child.policy.uptime() if child else None,
                    claude_state=child.claude_state if child else "unknown",
                    queued=self.sup.open_message_count(session),
                    memory_bytes=memory,
                    detail=child.policy.last_reason if child else "",
                    claude_pid=claude_pid,
                )
            )
        return infos

    def status(self) -> StatusReply:
        gateway = self.sup.children.get(GATEWAY)
        return StatusReply(
            supervisor_pid=os.getpid(),
            uptime_s=self.sup.clock() - self.sup.started,
            gateway_state=wire_state(gateway.policy.state) if gateway else "STOPPED",
            gateway_pid=gateway.process.pid if gateway and gateway.process else None,
            sessions=self.session_infos(),
            problems=[text for _, text in sorted(self.sup.gateway_problems.items())],
        )

    async def add_session(self, channel_id: int) -> ControlReply:
        if not valid_id(channel_id):
            return ErrorReply(text=f"invalid channel id {channel_id} (1 .. 2**63 - 1)")
        for session, channel in self.sup.sessions.items():
            if channel == channel_id:
                return ErrorReply(text=f"channel {channel_id} is already session {session}")
        session = next_session_number(self.sup.sessions)
        updated = {**self.sup.sessions, session: channel_id}
        save_sessions(self.sup.layout.sessions_file, updated, self.sup.config.encryption_key)
        child = await self.sup.start_session(session, channel_id)
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        child.hello_waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, ADD_SESSION_TIMEOUT)
        except TimeoutError:
            return ErrorReply(
                text=f"session {session} was added but its worker did not start"
                f" within {ADD_SESSION_TIMEOUT:.0f}s; see `vai tail {session}`"
            )
        return OkReply(text=f"Success: Session {session} added", session=session)

    async def remove_session(self, session: int, purge: bool) -> ControlReply:
        if session not in self.sup.sessions:
            return ErrorReply(text=f"no session {session}")
        remaining = {s: c for s, c in self.sup.sessions.items() if s != session}
        save_sessions(self.sup.layout.sessions_file, remaining, self.sup.config.encryption_key)
        await self.sup.end_session(session)
        if purge:
            shutil.rmtree(self.sup.layout.session_attachments(session), ignore_errors=True)
            self.sup.layout.session_log(session).unlink(missing_ok=True)
        kept = "" if purge else " (attachments and log kept)"
        return OkReply(text=f"Session {session} removed{kept}", session=session)

    async def post_message(self, request: PostMessage) -> ControlReply:
        channel = request.channel_id
        if request.session is not None:
            channel = self.sup.sessions.get(request.session)
            if channel is None:
                return ErrorReply(text=f"no session {request.session}")
        if channel is None:
            return ErrorReply(text="say which session or channel to post to")
        if not request.text.strip() and not request.file_path:
            return ErrorReply(text="nothing to post: give a message or --file")
        if request.file_path:
            problem = upload_problem(
                request.file_path, self.sup.config.file.discord.max_upload_bytes
            )
            if problem:
                return ErrorReply(text=problem)
        reply = PostReply(
            reply_id=f"dp-{uuid.uuid4().hex}",
            channel_id=channel,
            text=request.text,
            file_path=request.file_path,
        )
        assert self.sup.inbox is not None
        self.sup.inbox.add_reply(reply)
        sent = await self.sup.send_gateway(reply)
        queued = "" if sent else " (queued until the gateway is connected)"
        return OkReply(text=f"posted to channel {channel}{queued}")
