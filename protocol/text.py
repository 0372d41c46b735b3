"""Pure text rules: what may reach a pane, and how an answer is cut for Discord."""

from __future__ import annotations

import re

DISCORD_LIMIT = 2000

# C0 controls except TAB and LF, DEL, and C1 controls. ESC is among them, so no escape
# sequence (including the bracketed-paste terminator ESC[201~) can reach the pane as keys.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def sanitize_prompt(text: str) -> str:
    """Text safe to paste into Claude's input box: line ends normalised, controls removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


_FENCE = re.compile(r"^\s*(`{3,}|~{3,})(.*)$")


def split_for_discord(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """Cut `text` into messages of at most `limit` characters.

    Cuts fall on line ends where possible, then on spaces, and only then inside a word.
    A cut inside a code block closes the fence and reopens it (same info string) in the
    next message, so every message renders as the writer meant.
    """
    if not text.strip():
        return []
    if len(text) <= limit:
        return [text]
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    fence: str | None = None  # the opening fence line while inside a code block

    def flush() -> None:
        nonlocal current, size
        body = "\n".join(current)
        if fence is not None:
            body += "\n" + _closing(fence)
        if body.strip():
            chunks.append(body)
        current = [fence] if fence is not None else []
        size = len(fence) if fence is not None else 0

    for line in text.split("\n"):
        reserve = len(_closing(fence)) + 1 if fence is not None else 0
        pieces = _cut_line(line, limit - reserve - (len(fence) + 1 if fence else 0) - 1)
        for piece in pieces:
            added = len(piece) + (1 if current else 0)
            reserve = len(_closing(fence)) + 1 if fence is not None else 0
            if size + added + reserve > limit and current:
                flush()
                added = len(piece) + (1 if current else 0)
            current.append(piece)
            size += added
        match = _FENCE.match(line)
        if match:
            if fence is None:
                fence = line.strip()
            elif match.group(1)[0] == fence[0] and not match.group(2).strip():
                fence = None
    if current:
        fence = None  # the text itself decides whether its last block is closed
        body = "\n".join(current)
        if body.strip():
            chunks.append(body)
    return chunks


def _closing(fence: str) -> str:
    marker = re.match(r"`+|~+", fence)
    return marker.group(0) if marker else "```"


def _cut_line(line: str, width: int) -> list[str]:
    """A line longer than `width`, cut at spaces where possible."""
    width = max(width, 1)
    pieces: list[str] = []
    while len(line) > width:
        cut = line.rfind(" ", 0, width)
        if cut <= width // 2:
            cut = width
        pieces.append(line[:cut])
        line = line[cut:].lstrip(" ") if cut < len(line) and line[cut] == " " else line[cut:]
    pieces.append(line)
    return pieces
