"""What a worker must remember across its own death: the session's journal.

The conversation id (so Claude resumes), the message in flight with the transcript size
before it was typed (so a new worker can tell whether Claude took it), turn ends the
supervisor has not acknowledged yet, the files saved for unfinished messages, and the
choices waiting for an answer in the channel. It is replaced atomically on every change; the
rename survives the process being killed, which is the failure it exists for.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import msgspec

from vai.protocol.messages import ChatMessage, ChoiceRequest, TurnEnded


class InFlight(msgspec.Struct):
    message: ChatMessage
    text: str
    transcript_offset: int
    submitted: bool = False


class SessionState(msgspec.Struct):
    conversation_id: str = ""
    transcript_path: str = ""
    in_flight: InFlight | None = None
    unacked_turns: list[TurnEnded] = msgspec.field(default_factory=list)
    # Saved attachment paths of messages not finished yet (retyping lists the same files).
    attachments: dict[int, list[str]] = msgspec.field(default_factory=dict)
    # Choices asked in the channel and not answered yet (a new worker can adopt them).
    open_choices: list[ChoiceRequest] = msgspec.field(default_factory=list)
    # How far the transcript's token use has been counted (worker/usage.py).
    usage_path: str = ""
    usage_offset: int = 0
    # The CLI's cumulative cost counted so far, and the pane process it came from
    # (worker/status_line.py).
    cost_pid: int = 0
    cost_counted: float = 0.0


class StateFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._encode = msgspec.json.Encoder().encode
        self._decoder = msgspec.json.Decoder(SessionState)

    def load(self) -> SessionState:
        try:
            return self._decoder.decode(self.path.read_bytes())
        except FileNotFoundError:
            return SessionState()
        except msgspec.DecodeError:
            # Kept aside for a person to read, never silently overwritten.
            self.path.replace(self.path.with_suffix(".corrupt"))
            return SessionState()

    def save(self, state: SessionState) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(self._encode(state))
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
