"""Reading Claude's transcript: does the conversation durably hold a prompt?

UserPromptSubmit is not durable acceptance (a Claude killed just after it never sent the
prompt); the transcript line is. The format is Claude's internal one, so reading is
lenient: unknown lines are skipped.

When Claude runs as its own user, only files that user owns are read
(worker/transcript_access.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

from vai.worker.session_state import InFlight
from vai.worker.transcript_access import Owner, read_transcript


def transcript_path(home: Path, cwd: str, conversation_id: str) -> Path:
    """Where Claude keeps a conversation: ~/.claude/projects/<cwd, / and _ as ->/<id>.jsonl."""
    munged = cwd.replace("/", "-").replace("_", "-")
    return home / ".claude" / "projects" / munged / f"{conversation_id}.jsonl"


def size_of(path: Path | None) -> int:
    if path is None:
        return 0
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _user_text(entry: object) -> str | None:
    if not isinstance(entry, dict) or entry.get("type") != "user":
        return None
    message = entry.get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            b.get("text", "") for b in content if isinstance(b, dict) and b.get("type") == "text"
        ]
        return "\n".join(texts) if texts else None
    return None


def holds_prompt(path: Path | None, offset: int, prompt: str, owner: Owner | None = None) -> bool:
    """True if a user prompt equal to `prompt` was written after byte `offset`."""
    data = read_transcript(path, offset, owner)
    wanted = _normalise(prompt)
    for line in data.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        text = _user_text(entry)
        if text is not None and _normalise(text) == wanted:
            return True
    return False


def answer_after(path: Path | None, offset: int, owner: Owner | None = None) -> str:
    """The assistant's text written after byte `offset` (a turn's answer, or what an
    interrupted turn had said so far); '' if there is none."""
    data = read_transcript(path, offset, owner)
    texts = (text.strip() for message in assistant_messages(data) for text in texts_of(message))
    return "\n\n".join(text for text in texts if text)


def assistant_messages(data: bytes) -> Iterator[dict[str, object]]:
    """The `message` of each assistant line in `data` (whole JSONL lines; others, and
    lines that do not parse, are skipped)."""
    for line in data.splitlines():
        if b'"assistant"' not in line:  # most bytes are request copies: not parsed
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or entry.get("type") != "assistant":
            continue
        message = entry.get("message")
        if isinstance(message, dict):
            yield message


def texts_of(message: dict[str, object]) -> list[str]:
    """The text blocks of an assistant message, in order."""
    content = message.get("content")
    return [
        str(block.get("text", ""))
        for block in (content if isinstance(content, list) else [])
        if isinstance(block, dict) and block.get("type") == "text"
    ]


def has_conversation(path: Path | None, owner: Owner | None = None) -> bool:
    """Does the transcript hold any prompt or answer (can Claude `--resume` it)?

    The real CLI writes a turn's lines a moment after its Stop hook; killed before that,
    it leaves a file with only bookkeeping lines, and `--resume` of it exits with "No
    conversation found with session ID".
    """
    for line in read_transcript(path, 0, owner).splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("type") in ("user", "assistant"):
            return True
    return False


class ConversationTranscript:
    """The session's transcript wherever the conversation now is (a /clear moves it), as
    the turn tracker asks about it (worker/turns/tracker.py: Transcript)."""

    def __init__(self, path: Callable[[], Path], owner: Owner | None = None) -> None:
        self._path = path
        self._owner = owner

    def holds(self, in_flight: InFlight) -> bool:
        return holds_prompt(self._path(), in_flight.transcript_offset, in_flight.text, self._owner)

    def answer_after(self, offset: int) -> str:
        return answer_after(self._path(), offset, self._owner)
