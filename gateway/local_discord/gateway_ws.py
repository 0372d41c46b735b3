"""The websocket gateway of the local Discord server (JSON text frames, API v10 semantics).

Each IDENTIFY creates a session with its own sequence numbers and a replay buffer, so a client
that is disconnected (by a test, or by a dropped TCP connection) can RESUME and receive every
event it missed exactly once, as on Discord. Frames for one connection go through a queue drained
by a single writer task: that keeps events in order and lets a forced close happen after the frames
already queued, never in the middle of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .store import JSON, Store

log = logging.getLogger(__name__)

OP_DISPATCH, OP_HEARTBEAT, OP_IDENTIFY, OP_RESUME, OP_RECONNECT = 0, 1, 2, 6, 7
OP_REQUEST_MEMBERS, OP_INVALID_SESSION, OP_HELLO, OP_HEARTBEAT_ACK = 8, 9, 10, 11
INTENT_MESSAGE_CONTENT = 1 << 15
# Every non-privileged intent: what a client gets when IDENTIFY names none.
DEFAULT_INTENTS = ((1 << 26) - 1) & ~((1 << 1) | (1 << 8) | INTENT_MESSAGE_CONTENT)
REPLAY_BUFFER = 2000
MAX_IDLE_SESSIONS = 20
_EVENT_INTENT = {
    "GUILD_CREATE": 0, "CHANNEL_CREATE": 0, "CHANNEL_UPDATE": 0, "CHANNEL_DELETE": 0,
    "GUILD_ROLE_CREATE": 0, "GUILD_MEMBER_ADD": 1, "GUILD_MEMBER_UPDATE": 1,
    "MESSAGE_CREATE": 9, "MESSAGE_UPDATE": 9, "MESSAGE_DELETE": 9,
    "MESSAGE_REACTION_ADD": 10, "MESSAGE_REACTION_REMOVE": 10, "TYPING_START": 11,
}  # fmt: skip


@dataclass
class _Close:
    code: int | None  # None: drop the TCP connection without a close frame; 0: just stop
    reason: str = ""


@dataclass
class Session:
    """A gateway session: survives its connection so that RESUME can replay what was missed."""

    id: str
    intents: int
    shard: Any = None
    seq: int = 0
    buffer: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=REPLAY_BUFFER))
    conn: Connection | None = None


class Connection:
    """One websocket; frames are queued and written in order by :meth:`run_writer`."""

    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None) -> None:
        self.ws, self.transport = ws, transport
        self.queue: asyncio.Queue[str | _Close] = asyncio.Queue()
        self.session: Session | None = None
        self.closing = False

    def send(self, payload: JSON) -> None:
        self.queue.put_nowait(json.dumps(payload))

    def close(self, code: int | None, reason: str = "") -> None:
        if not self.closing:
            self.closing = True
            self.queue.put_nowait(_Close(code, reason))

    async def run_writer(self) -> None:
        while True:
            item = await self.queue.get()
            if isinstance(item, str):
                try:
                    await self.ws.send_str(item)
                except (ConnectionError, RuntimeError):
                    return
                continue
            if item.code is None:
                if self.transport is not None:
                    self.transport.abort()
            elif item.code:
                with contextlib.suppress(ConnectionError, RuntimeError):
                    await self.ws.close(code=item.code, message=item.reason.encode())
            return


def _wants(session: Session, event: str) -> bool:
    bit = _EVENT_INTENT.get(event)
    return bit is None or bool(session.intents & (1 << bit))


class Gateway:
    """Serves ``/gateway``; :meth:`dispatch` fans events out to every live or resumable session."""

    def __init__(
        self,
        store: Store,
        *,
        token: str | None,
        message_content_enabled: bool,
        heartbeat_interval_ms: int,
        resume_url: Callable[[], str],
        on_change: Callable[[], None],
    ) -> None:
        self.store, self.token = store, token
        self.message_content_enabled = message_content_enabled
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.resume_url, self.on_change = resume_url, on_change
        self.sessions: dict[str, Session] = {}
        self.connections: set[Connection] = set()
        self.identify_count = 0
        self.resume_count = 0

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024)
        await ws.prepare(request)
        conn = Connection(ws, request.transport)
        self.connections.add(conn)
        writer = asyncio.create_task(conn.run_writer())
        conn.send({"op": OP_HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        self.on_change()
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    self._receive(conn, msg.data)
                else:
                    conn.close(4002, "Decode error")
        finally:
            self.connections.discard(conn)
            session = conn.session
            if session is not None and session.conn is conn:
                session.conn = None
                if not conn.closing and ws.close_code in (1000, 1001):
                    self.sessions.pop(session.id, None)  # a clean client close ends the session
            conn.close(0)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(writer, 1.0)
            self.on_change()
        return ws

    def _receive(self, conn: Connection, text: str) -> None:
        try:
            payload = json.loads(text)
            op, data = payload["op"], payload.get("d")
        except (ValueError, KeyError, TypeError):
            conn.close(4002, "Decode error")
            return
        if op == OP_HEARTBEAT:
            conn.send({"op": OP_HEARTBEAT_ACK})
        elif op == OP_IDENTIFY:
            self._identify(conn, data or {})
        elif op == OP_RESUME:
            self._resume(conn, data or {})
        elif conn.session is None:
            conn.close(4003, "Not authenticated.")
        elif op == OP_REQUEST_MEMBERS:
            self._members_chunk(conn.session, data or {})
        elif op not in (3, 4):  # presence and voice state updates are accepted and ignored
            conn.close(4001, "Unknown opcode.")

    def _identify(self, conn: Connection, data: JSON) -> None:
        if conn.session is not None:
            conn.close(4005, "Already authenticated.")
            return
        if self.token is not None and data.get("token") != self.token:
            conn.close(4004, "Authentication failed.")
            return
        intents = data.get("intents")
        intents = DEFAULT_INTENTS if intents is None else int(intents)
        if intents & INTENT_MESSAGE_CONTENT and not self.message_content_enabled:
            conn.close(4014, "Disallowed intent(s).")
            return
        self._prune_idle()
        session = Session(secrets.token_hex(16), intents, data.get("shard"))
        self.sessions[session.id] = session
        session.conn, conn.session = conn, session
        self.identify_count += 1
        self._send_event(session, "READY", self._ready(session))
        self._send_event(session, "GUILD_CREATE", self.store.guild_json())
        self.on_change()

    def _ready(self, session: Session) -> JSON:
        store = self.store
        flags = (1 << 18) if self.message_content_enabled else 0
        user = store.bot.to_json() | {"verified": True, "mfa_enabled": False, "flags": 0}
        ready: JSON = {"v": 10, "user": user, "session_id": session.id, "session_type": "normal"}
        ready |= {"guilds": [{"id": str(store.guild_id), "unavailable": True}]}
        ready |= {"resume_gateway_url": self.resume_url(), "private_channels": []}
        ready |= {"application": {"id": str(store.application_id), "flags": flags}}
        ready |= {"relationships": [], "geo_ordered_rtc_regions": []}
        if session.shard is not None:
            ready["shard"] = session.shard
        return ready

    def _resume(self, conn: Connection, data: JSON) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if self.token is not None and data.get("token") != self.token:
            conn.close(4004, "Authentication failed.")
            return
        seq = data.get("seq")
        seq = 0 if seq is None else int(seq)
        oldest = session.buffer[0][0] if session and session.buffer else 1
        if session is None or conn.session is not None or not oldest - 1 <= seq <= session.seq:
            conn.send({"op": OP_INVALID_SESSION, "d": False})
            return
        if session.conn is not None:
            session.conn.close(4000, "Session resumed elsewhere.")
        session.conn, conn.session = conn, session
        for number, text in session.buffer:
            if number > seq:
                conn.queue.put_nowait(text)
        self.resume_count += 1
        self._send_event(session, "RESUMED", {})
        self.on_change()

    def _members_chunk(self, session: Session, data: JSON) -> None:
        wanted = {int(i) for i in data.get("user_ids") or []}
        query = str(data.get("query") or "").lower()
        users = [u for u in self.store.users.values() if not wanted or u.id in wanted]
        users = [u for u in users if u.username.lower().startswith(query)]
        chunk: JSON = {"guild_id": str(self.store.guild_id), "chunk_index": 0, "chunk_count": 1}
        chunk |= {"members": [self.store.member_json(u) for u in users], "not_found": []}
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        self._send_event(session, "GUILD_MEMBERS_CHUNK", chunk)

    def _prune_idle(self) -> None:
        idle = [s for s in self.sessions.values() if s.conn is None]
        for session in idle[: max(0, len(idle) - MAX_IDLE_SESSIONS + 1)]:
            del self.sessions[session.id]

    def _send_event(self, session: Session, event: str, data: JSON) -> None:
        session.seq += 1
        text = json.dumps({"op": OP_DISPATCH, "t": event, "s": session.seq, "d": data})
        session.buffer.append((session.seq, text))
        if session.conn is not None:
            session.conn.queue.put_nowait(text)

    def _redact(self, session: Session, event: str, data: JSON) -> JSON:
        """Without the Message Content intent, others' messages arrive without their content."""
        if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE"):
            return data
        if session.intents & INTENT_MESSAGE_CONTENT:
            return data
        bot_id = str(self.store.bot.id)
        author = data.get("author", {}).get("id")
        if author == bot_id or any(m.get("id") == bot_id for m in data.get("mentions", [])):
            return data
        redacted = data | {"content": "", "embeds": [], "attachments": [], "components": []}
        redacted.pop("poll", None)
        return redacted

    def dispatch(self, event: str, data: JSON) -> None:
        """Sends an event to every session that asked for it (or buffers it for RESUME)."""
        for session in list(self.sessions.values()):
            if _wants(session, event):
                self._send_event(session, event, self._redact(session, event, data))

    def disconnect(self, code: int | None = 4000) -> None:
        """Closes every connection with ``code`` (``None`` or 1006: drop TCP); sessions stay."""
        for conn in list(self.connections):
            if conn.session is not None and conn.session.conn is conn:
                conn.session.conn = None
            conn.close(None if code in (None, 1006) else code, "Forced disconnect.")

    def send_reconnect(self) -> None:
        """Op 7: the client closes and resumes."""
        for conn in list(self.connections):
            conn.send({"op": OP_RECONNECT, "d": None})

    def invalidate_sessions(self, *, resumable: bool = False) -> None:
        """Op 9 to every connection; with ``resumable=False`` the sessions are forgotten."""
        for conn in list(self.connections):
            conn.send({"op": OP_INVALID_SESSION, "d": resumable})
        if not resumable:
            self.sessions.clear()

    async def close_all(self) -> None:
        self.disconnect(1001)
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.ws.close(code=1001), 1.0)
