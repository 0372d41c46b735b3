"""Which message the worker types next, and which messages a turn answered: pure rules.

One prompt at a time: the next message is typed only when the previous one was accepted
by Claude (UserPromptSubmit) and its turn ended (Stop). Messages wait here, in the bridge,
rather than in Claude's own queue, which dies with Claude.
"""

from __future__ import annotations

from collections import deque

from protocol.messages import ChatMessage


class PromptQueue:
    def __init__(self) -> None:
        self._pending: deque[ChatMessage] = deque()
        self._known: set[int] = set()
        self.typing: ChatMessage | None = None
        self.in_turn: list[ChatMessage] = []

    def offer(self, message: ChatMessage) -> bool:
        """Queue a message unless this worker already has it (the supervisor resends)."""
        if message.message_id in self._known:
            return False
        self._known.add(message.message_id)
        self._pending.append(message)
        return True

    def next_prompt(self) -> ChatMessage | None:
        """The message to type now, if the previous turn is over."""
        if self.typing is not None or self.in_turn or not self._pending:
            return None
        self.typing = self._pending.popleft()
        return self.typing

    def submitted(self) -> ChatMessage | None:
        """Claude took the typed message as a prompt; its turn has begun."""
        message, self.typing = self.typing, None
        if message is not None:
            self.in_turn.append(message)
        return message

    def typing_failed(self) -> None:
        """Typing did not go through; the message goes back to the front."""
        if self.typing is not None:
            self._pending.appendleft(self.typing)
            self.typing = None

    def finished_without_turn(self) -> ChatMessage | None:
        """A slash command that Claude ran without a model turn."""
        message, self.typing = self.typing, None
        return message

    def turn_ended(self) -> list[ChatMessage]:
        done, self.in_turn = self.in_turn, []
        return done

    def abandon_turn(self) -> list[ChatMessage]:
        """Claude died mid-turn: what it had taken goes back to be typed again."""
        back, self.in_turn = self.in_turn, []
        if self.typing is not None:
            back.append(self.typing)
            self.typing = None
        for message in reversed(back):
            self._pending.appendleft(message)
        return back

    def __len__(self) -> int:
        return len(self._pending) + len(self.in_turn) + (self.typing is not None)
