"""Session ids and transcripts in the real CLI's layout.

Why: the bridge decides between --session-id and --resume by looking for the transcript,
and reads hook payloads that point at it, so paths, line shapes and write order must match:
the prompt line after UserPromptSubmit, the answer line before Stop.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

VERSION = "2.1.330"

Entry = tuple[str, str]
"""One item of the on-screen conversation: (kind, text), kind in prompt, answer, tool,
result, interrupted, info."""

INTERRUPTED = "[Request interrupted by user]"


def new_uuid() -> str:
    """A random (version 4) UUID, without importing the uuid module (start-up time)."""
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def is_uuid(text: str) -> bool:
    """The 8-4-4-4-12 hex shape the real CLI requires of --session-id."""
    parts = text.split("-")
    if [len(p) for p in parts] != [8, 4, 4, 4, 12]:
        return False
    return all(c in "0123456789abcdefABCDEF" for c in "".join(parts))


def now_iso() -> str:
    """UTC timestamp with milliseconds, as in the real transcripts."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def project_dir(home: str, cwd: str) -> str:
    """$HOME/.claude/projects/<cwd with every / and _ replaced by ->."""
    return os.path.join(home, ".claude", "projects", cwd.replace("/", "-").replace("_", "-"))


class Transcript:
    """Appends JSON lines to <project dir>/<session id>.jsonl, chaining parentUuid."""

    def __init__(self, home: str, cwd: str, session_id: str, model: str) -> None:
        self.home = home
        self.cwd = cwd
        self.model = model
        self.session_id = session_id
        self.parent: str | None = None
        self.usages: list[dict[str, Any]] = []  # of this process's responses (statusLine)

    @property
    def path(self) -> str:
        """Where this session's transcript lives (it exists once a prompt was written)."""
        return os.path.join(project_dir(self.home, self.cwd), self.session_id + ".jsonl")

    def exists(self) -> bool:
        """Whether the session has a transcript (so --resume works, --session-id fails)."""
        return os.path.isfile(self.path)

    def switch(self, session_id: str) -> None:
        """Start a fresh chain under a new session id (/clear)."""
        self.session_id = session_id
        self.parent = None

    def user(self, content: str | list[dict[str, Any]]) -> None:
        """A user line: a prompt (string content) or tool results / interrupt markers."""
        self._append("user", {"role": "user", "content": content})

    def assistant(self, block: dict[str, Any], stop_reason: str | None = "end_turn") -> None:
        """An assistant line holding one content block, like the real CLI writes them."""
        usage = standin_usage(block)
        self.usages.append(usage)
        message = {
            "id": "msg_" + new_uuid().replace("-", "")[:24],
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [block],
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": usage,
        }
        self._append("assistant", message)

    def _append(self, kind: str, message: dict[str, Any]) -> None:
        """Write one record and flush it (no fsync, like the real CLI)."""
        uid = new_uuid()
        record = {
            "parentUuid": self.parent,
            "isSidechain": False,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session_id,
            "version": VERSION,
            "type": kind,
            "message": message,
            "uuid": uid,
            "timestamp": now_iso(),
        }
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.parent = uid

    def load(self) -> list[Entry]:
        """Read an existing transcript back into screen entries (--resume)."""
        entries: list[Entry] = []
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if not isinstance(record, dict):
                    continue
                self.parent = record.get("uuid", self.parent)
                message = record.get("message")
                if isinstance(message, dict):
                    entries.extend(_entries_of(record.get("type"), message.get("content")))
        return entries


def _entries_of(kind: object, content: object) -> list[Entry]:
    """Screen entries for one transcript record."""
    if kind == "user" and isinstance(content, str):
        return [("prompt", content)]
    found: list[Entry] = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        btype = block.get("type")
        if btype == "text" and kind == "assistant":
            found.append(("answer", str(block.get("text", ""))))
        elif btype == "text" and str(block.get("text", "")).startswith(INTERRUPTED):
            found.append(("interrupted", ""))
        elif btype == "tool_use":
            command = (block.get("input") or {}).get("command", "")
            found.append(("tool", f"{block.get('name', 'Tool')}({command})"))
        elif btype == "tool_result":
            found.append(("result", str(block.get("content", ""))))
    return found


def standin_usage(block: dict[str, Any]) -> dict[str, Any]:
    """Made-up but steady token counts, in the fields the real CLI writes (the API's)."""
    return {
        "input_tokens": 3,
        "cache_creation_input_tokens": 1200,
        "cache_read_input_tokens": 11000,
        "output_tokens": max(1, len(json.dumps(block)) // 4),
        "service_tier": "standard",
    }
