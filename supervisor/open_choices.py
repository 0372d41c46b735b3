"""The choices relayed to the gateway and not answered yet: what an answer may answer. Pure
(the inbox is read, never written).

A permission prompt's answer runs a command in a session, so it is taken only for a
request the supervisor relayed and still holds open, and only for the session that asked
(an answer naming another session, or a request never relayed, is dropped and logged).
A worker may not reuse another session's request id to take its place, nor withdraw
another session's request. A request pings only someone whose message its session holds
open (`own_mention`): a worker cannot make the bot ping anyone else.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import msgspec

from vai.protocol.messages import ChoiceAnswer, ChoiceRequest, ChoiceWithdrawn
from vai.supervisor.interfaces import MessageStore

log = logging.getLogger("supervisor")


class OpenChoices:
    def __init__(self) -> None:
        self._open: dict[str, ChoiceRequest] = {}

    def __iter__(self) -> Iterator[ChoiceRequest]:
        return iter(list(self._open.values()))

    def relay(self, request: ChoiceRequest) -> bool:
        """Hold a worker's request open; False (dropped) if its id is another session's."""
        held = self._open.get(request.request_id)
        if held is not None and held.session != request.session:
            log.warning(
                "worker of session %d asked %s: session %d's request id, dropped",
                request.session,
                request.request_id,
                held.session,
            )
            return False
        self._open[request.request_id] = request
        return True

    def close(self, answer: ChoiceAnswer) -> bool:
        """True when `answer` answers an open request of its session (now closed)."""
        request = self._open.get(answer.request_id)
        if request is None or request.session != answer.session:
            log.warning(
                "answer to %s for session %d dropped: %s",
                answer.request_id,
                answer.session,
                "no such open request (never relayed, or closed)"
                if request is None
                else f"that request is session {request.session}'s",
            )
            return False
        del self._open[answer.request_id]
        return True

    def withdraw(self, withdrawn: ChoiceWithdrawn) -> bool:
        """True when the worker withdraws an open request of its own session (now closed)."""
        request = self._open.get(withdrawn.request_id)
        if request is None or request.session != withdrawn.session:
            log.info(
                "worker of session %d withdrew %s: not one of its open requests, ignored",
                withdrawn.session,
                withdrawn.request_id,
            )
            return False
        del self._open[withdrawn.request_id]
        return True

    def forget_session(self, session: int) -> None:
        for request_id in [r for r, c in self._open.items() if c.session == session]:
            del self._open[request_id]


def own_mention(store: MessageStore, session: int, request: ChoiceRequest) -> ChoiceRequest:
    """The request, naming for a ping only the author of one of the session's open
    messages (received, or in its turn; not a bot). Another name is dropped and logged;
    the choice is still asked."""
    user = request.mention_user_id
    if not user:
        return request
    authors = {m.author.id for m, _ in store.open_messages(session) if not m.author.bot}
    if user in authors:
        return request
    log.warning(
        "worker of session %d named user %d in choice %s: not the author of one of its"
        " open messages, no ping",
        session,
        user,
        request.request_id,
    )
    return msgspec.structs.replace(request, mention_user_id=0)
