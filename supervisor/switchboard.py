"""Routing in the supervisor: a switchboard with no sockets and no event loop.

Each message the supervisor receives (from the gateway, from worker N, or the backlog a
worker is owed when it says READY) goes in; what to send comes out as (destination,
message) pairs, in the order they must be sent. The switchboard keeps what routing needs:
the session map, which peers are connected and taking messages, the choices waiting for
an answer, each Claude's state. The bus (supervisor/bus.py) decodes, asks and sends.

Durability goes through the injected store, synchronously, before the pairs are returned:
a message is committed before the ack that promises it exists, and an answer before it
is offered to the gateway (persist before ack). A message reaches a session only from
that session's channel.

Every peer speaks only for itself (the bus has checked who sent what): a worker for its
own session and messages (peer_rules.py); the gateway answers only a choice relayed and
still open, for the session that asked (open_choices.py).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, assert_never

import msgspec

from vai.common.logs import PRIVATE
from vai.protocol.links import (
    GatewayToSupervisor,
    SupervisorToGateway,
    SupervisorToWorker,
    WorkerToSupervisor,
)
from vai.protocol.messages import (
    ChoiceAnswer,
    ChoiceRequest,
    ChoiceWithdrawn,
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
    InterruptResult,
    PanePost,
    PostReply,
    PromptProgress,
    ReplyPosted,
    SessionMap,
    SettingsUpdate,
    ToolProgress,
    TurnAck,
    TurnEnded,
    Typing,
    WorkerHello,
)
from vai.protocol.session_settings import SessionSettings
from vai.supervisor.config import DiscordSection
from vai.supervisor.interfaces import MessageStore, TurnObserver
from vai.supervisor.open_choices import OpenChoices, own_mention
from vai.supervisor.peer_rules import own_channel_post, own_turn, own_update, speaks_for_itself
from vai.supervisor.routes import session_map
from vai.supervisor.spawn_specs import gateway_settings
from vai.supervisor.texts import TRY_IT
from vai.supervisor.turn_answers import end_stage, failed_mark, turn_reply

log = logging.getLogger("supervisor")


@dataclass(frozen=True)
class Gateway:
    """The gateway process."""


@dataclass(frozen=True)
class Worker:
    """The worker of one session."""

    session: int


GATEWAY: Final = Gateway()
Destination = Gateway | Worker
Send = tuple[Gateway, SupervisorToGateway] | tuple[Worker, SupervisorToWorker]


@dataclass
class Peer:
    """What routing knows of one connected process."""

    connected: bool = False
    # True once a worker's backlog went out after READY: live messages may follow, in order.
    taking_messages: bool = False
    claude_state: ClaudeState = "unknown"


class Switchboard:
    def __init__(
        self,
        store: MessageStore,
        discord: DiscordSection,
        observer: TurnObserver | None = None,
    ) -> None:
        self._store = store
        self._discord = discord
        self._observer = observer
        self._sessions: dict[int, int] = {}
        self._channels: dict[int, int] = {}
        self._settings: dict[int, SessionSettings] = {}
        self._gateway = Peer()
        self._workers: dict[int, Peer] = {}
        # Offered in a channel and not answered: offered again to a restarted gateway.
        self._choices = OpenChoices()
        # What the gateway says only the operator can fix, by channel (0: the gateway).
        self.gateway_problems: dict[int, str] = {}
        self.local_url = ""  # the local Discord's chat page, with its key (GatewayHello)
        self.on_interrupt_result: Callable[[InterruptResult], None] | None = None

    # -- the session map ---------------------------------------------------------------------

    def sessions(self) -> Mapping[int, int]:
        return MappingProxyType(self._sessions)

    def settings(self) -> Mapping[int, SessionSettings]:
        """Each session's record (name, work dir, kind, parent...)."""
        return MappingProxyType(self._settings)

    def add_session(
        self, session: int, channel_id: int, settings: SessionSettings | None = None
    ) -> list[Send]:
        self._sessions[session] = channel_id
        self._channels[channel_id] = session
        self._settings[session] = settings or SessionSettings(channel_id=channel_id)
        self._workers[session] = Peer()
        return self._to_gateway(self.session_map())

    def update_settings(self, session: int, settings: SessionSettings) -> list[Send]:
        """A session's record changed (`/threads`): the gateway gets the new map."""
        self._settings[session] = settings
        return self._to_gateway(self.session_map())

    def remove_session(self, session: int) -> list[Send]:
        """Forget the session: its peer, its open choices, its place in the map."""
        channel = self._sessions.pop(session, None)
        if channel is not None:
            self._channels.pop(channel, None)
        self._settings.pop(session, None)
        self._workers.pop(session, None)
        self._choices.forget_session(session)
        return self._to_gateway(self.session_map())

    def reconfigure(self, discord: DiscordSection) -> list[Send]:
        """vai.toml reloaded: the gateway gets the new map and settings now."""
        self._discord = discord
        update = SettingsUpdate(settings=gateway_settings(discord))
        return self._to_gateway(self.session_map()) + self._to_gateway(update)

    def session_map(self) -> SessionMap:
        return session_map(self._settings, self._discord, self._store.last_message_ids())

    # -- peers -----------------------------------------------------------------------------

    def peer(self, session: int | None) -> Peer:
        """The gateway (None) or a session's worker; a blank one for an unknown session."""
        if session is None:
            return self._gateway
        return self._workers.get(session) or Peer()

    def peer_gone(self, session: int | None) -> None:
        """The process exited or is being replaced: nothing goes to it until its hello."""
        peer = self._gateway if session is None else self._workers.get(session)
        if peer is not None:
            peer.connected = peer.taking_messages = False

    # -- from the gateway --------------------------------------------------------------------

    def from_gateway(self, message: GatewayToSupervisor) -> list[Send]:
        match message:
            case Heartbeat():
                return []
            case GatewayHello(local_url=local_url):
                if local_url and local_url != self.local_url:  # it holds this run's key:
                    log.info(TRY_IT, local_url, extra=PRIVATE)  # file and terminal only
                self.local_url = local_url
                self._gateway.connected = True
                self.gateway_problems.clear()  # a new gateway reports afresh
                sends: list[Send] = [(GATEWAY, self.session_map())]
                sends += [(GATEWAY, reply) for reply in self._store.unposted_replies()]
                sends += [(GATEWAY, choice) for choice in self._choices]
                return sends
            case GatewayProblem(text=text, channel_id=channel_id):
                if text:
                    log.error("gateway: %s", text)
                    self.gateway_problems[channel_id] = text
                else:
                    self.gateway_problems.pop(channel_id, None)
                return []
            case ChoiceAnswer():
                return self._answer(message)
            case ReplyPosted(reply_id=reply_id, ok=ok, error=error):
                self._store.mark_posted(reply_id)
                if not ok:
                    log.warning("reply %s could not be posted: %s", reply_id, error)
                return []
            case Inbound():
                return self.inbound([message])
            case _:
                assert_never(message)

    def _answer(self, answer: ChoiceAnswer) -> list[Send]:
        """An answer goes only to the session whose open request it answers."""
        if not self._choices.close(answer):
            return []
        if not self.peer(answer.session).connected:
            log.warning(
                "answer to %s for session %d could not be delivered",
                answer.request_id,
                answer.session,
            )
            return []
        return [(Worker(answer.session), answer)]

    def inbound(self, batch: Sequence[Inbound]) -> list[Send]:
        """Store a batch in one commit, then ack every message and deliver the new ones.

        Every message is acked, refused ones too (the gateway must not resend them); a
        message is delivered only to a worker that is taking messages, the others get it
        from the store when they say READY.
        """
        accepted: list[Inbound] = []
        refused: list[Inbound] = []
        for message in batch:
            (accepted if self._belongs(message) else refused).append(message)
        added = self._store.add_messages((m.session, m.message) for m in accepted)
        sends: list[Send] = [
            (GATEWAY, InboundAck(seq=m.seq, message_id=m.message.message_id)) for m in batch
        ]
        for message, new in zip(accepted, added, strict=True):
            if not new:
                continue
            chat = message.message
            log.info(
                "session %d <- %s: %s", message.session, chat.author.name, preview(chat.content)
            )
            if self.peer(message.session).taking_messages:
                sends.append((Worker(message.session), Deliver(message=chat)))
        for message in refused:
            log.warning(
                "message %d from channel %d for session %d dropped: not that session's",
                message.message.message_id,
                message.message.channel_id,
                message.session,
            )
        return sends

    def _belongs(self, inbound: Inbound) -> bool:
        """The message came from its session's channel (or, routed to the default session,
        from a channel no session has). A message sent before a session was removed and its
        number reused must not reach the new session."""
        channel = self._sessions.get(inbound.session)
        if channel is None:
            return False
        if inbound.message.channel_id == channel:
            return True
        return (
            self._discord.route_unmapped == "default"
            and inbound.session == self._discord.default_session
            and inbound.message.channel_id not in self._channels
        )

    # -- from a worker -----------------------------------------------------------------------

    def from_worker(self, session: int, message: WorkerToSupervisor) -> list[Send]:
        worker = self._workers.get(session)
        if not speaks_for_itself(session, message, worker is not None) or worker is None:
            return []
        match message:
            case Heartbeat():
                return []
            case WorkerHello(ready=ready, claude_state=state):
                worker.connected = True
                worker.claude_state = state
                return self._backlog(session, worker) if ready else []
            case ClaudeStatus(state=state, pane_pid=pane_pid):
                sends: list[Send] = []
                if state != worker.claude_state:
                    # Typing while Claude works; not while it waits for the channel.
                    typing = Typing(channel_id=self._sessions[session], active=state == "busy")
                    sends = self._to_gateway(typing)
                worker.claude_state = state
                if self._observer is not None:
                    self._observer.pane_seen(session, pane_pid)
                return sends
            case DeliveryUpdate():
                if not own_update(self._store, session, message):
                    return []
                return self._delivery_update(message)
            case TurnEnded():
                return self._turn_ended(own_turn(self._store, session, message))
            case ChoiceRequest() | ChoiceWithdrawn() | ToolProgress():
                return self._to_channel(message)
            case PanePost():
                return self.post(own_channel_post(message, self._sessions[session]))
            case InterruptResult():
                if self.on_interrupt_result is not None:
                    self.on_interrupt_result(message)
                return []
            case _:
                assert_never(message)

    def _backlog(self, session: int, worker: Peer) -> list[Send]:
        """On READY: every unfinished message, in channel order; live ones follow it."""
        worker.taking_messages = True
        return [
            (Worker(session), Deliver(message=chat))
            for chat, _ in self._store.open_messages(session)
        ]

    def _delivery_update(self, update: DeliveryUpdate) -> list[Send]:
        self._store.set_stage(update.message_id, update.stage)
        if update.stage == "accepted" and self._observer is not None:
            self._observer.prompt_accepted(update.session, update.message_id)
        channel = self._store.channel_of(update.message_id)
        if channel is None:
            return []
        id_, stage, detail = update.message_id, update.stage, update.detail
        progress = PromptProgress(channel_id=channel, message_id=id_, stage=stage, detail=detail)
        return self._to_gateway(progress)

    def _turn_ended(self, turn: TurnEnded) -> list[Send]:
        """Persist the answer (and the messages' end), then acknowledge to the worker."""
        if self._observer is not None:
            self._observer.turn_ended(turn.session, turn.message_ids)
        if turn.usage is not None:
            self._store.add_usage(turn.session, turn.turn_id, turn.usage)
        sends: list[Send] = []
        channel = self._sessions[turn.session]
        for message_id in turn.message_ids:
            if self._store.set_stage(message_id, end_stage(turn)) and turn.failure:
                sends += self._to_gateway(failed_mark(channel, message_id))
        reply = turn_reply(turn, channel)
        if reply is not None and self._store.add_reply(reply):
            log.info("session %d -> %s", turn.session, preview(reply.text))
            sends += self._to_gateway(reply)
        sends.append((Worker(turn.session), TurnAck(turn_id=turn.turn_id)))
        return sends

    def _to_channel(self, message: ChoiceRequest | ChoiceWithdrawn | ToolProgress) -> list[Send]:
        """A worker's question (pinging only its own people), its withdrawal or progress,
        addressed to its session's channel."""
        addressed = msgspec.structs.replace(message, channel_id=self._sessions[message.session])
        if isinstance(addressed, ChoiceRequest):
            addressed = own_mention(self._store, message.session, addressed)
            if not self._choices.relay(addressed):
                return []
        if isinstance(addressed, ChoiceWithdrawn) and not self._choices.withdraw(addressed):
            return []
        return self._to_gateway(addressed)

    # -- the operator's ----------------------------------------------------------------------

    def interrupt(self, session: int, request_id: str = "") -> list[Send]:
        """Interrupt Claude's turn; nothing when the worker is not connected."""
        if not self.peer(session).connected:
            return []
        return [(Worker(session), Interrupt(request_id=request_id))]

    def post(self, reply: PostReply) -> list[Send]:
        """An explicit post (`dp`): stored first, sent when the gateway is there."""
        self._store.add_reply(reply)
        return self._to_gateway(reply)

    def alert(self, session: int, text: str, icon: str = "⚠️") -> list[Send]:
        """A notice in the session's channel, stored like an answer."""
        channel = self._sessions.get(session)
        if channel is None:
            return []
        reply = PostReply(
            reply_id=f"alert-{session}-{uuid.uuid4().hex}",
            channel_id=channel,
            text=f"{icon} {text}",
        )
        return self._to_gateway(reply) if self._store.add_reply(reply) else []

    def _to_gateway(self, message: SupervisorToGateway) -> list[Send]:
        """To the gateway if it is connected; what is stored reaches it at its next hello."""
        return [(GATEWAY, message)] if self._gateway.connected else []


def preview(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
