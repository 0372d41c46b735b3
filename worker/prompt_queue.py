"""Which message the worker types next: pure rules.

One prompt at a time: the next message is typed only when the one in flight has finished
(its turn ended, or Claude is known to hold it). Messages wait here, in the bridge, rather
than in Claude's own input queue, which dies with Claude.
"""

from __future__ import annotations

from collections import deque

from vai.protocol.messages import ChatMessage
from vai.worker.session_state import InFlight


class PromptQueue:
    def __init__(self) -> None:
        self._pending: deque[ChatMessage] = deque()
        self._known: set[int] = set()
        self.current: InFlight | None = None

    def restore(self, in_flight: InFlight | None, finished: list[int]) -> None:
        """Take back what a previous worker had: its message in flight, and the ids of
        messages whose turn ended but which the supervisor may still resend."""
        self.current = in_flight
        self._known.update(finished)
        if in_flight is not None:
            self._known.add(in_flight.message.message_id)

    def offer(self, message: ChatMessage) -> bool:
        """Queue a message unless this worker already has it (the supervisor resends)."""
        if message.message_id in self._known:
            return False
        self._known.add(message.message_id)
        self._pending.append(message)
        return True

    def take(self, text: str, transcript_offset: int) -> InFlight | None:
        """The next message becomes the one in flight, if none is."""
        if self.current is not None or not self._pending:
            return None
        message = self._pending.popleft()
        self.current = InFlight(message=message, text=text, transcript_offset=transcript_offset)
        return self.current

    def peek(self) -> ChatMessage | None:
        return self._pending[0] if self.current is None and self._pending else None

    def finish(self) -> InFlight | None:
        """The message in flight is done (answered, or held by the conversation)."""
        done, self.current = self.current, None
        return done

    def retry(self) -> None:
        """The message in flight did not reach Claude; it goes back to the front."""
        if self.current is not None:
            self._pending.appendleft(self.current.message)
            self.current = None

    def __len__(self) -> int:
        return len(self._pending) + (self.current is not None)
