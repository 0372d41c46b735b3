"""The choices relayed to the gateway and not answered yet: what an answer may answer. Pure.

A permission prompt's answer runs a command in a session, so it is taken only for a
request the supervisor relayed and still holds open, and only for the session that asked
(an answer naming another session, or a request never relayed, is dropped and logged).
A worker may not reuse another session's request id to take its place.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from vai.protocol.messages import ChoiceAnswer, ChoiceRequest

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

    def forget_session(self, session: int) -> None:
        for request_id in [r for r, c in self._open.items() if c.session == session]:
            del self._open[request_id]
