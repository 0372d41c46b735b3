"""Pure text rules: what may reach a pane, what can be encoded, how an answer is cut."""

from __future__ import annotations

import re
from typing import Any

DISCORD_LIMIT = 2000

# C0 controls except TAB and LF, DEL, and C1 controls. ESC is among them, so no escape
# sequence (including the bracketed-paste terminator ESC[201~) can reach the pane as keys.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def sanitize_prompt(text: str) -> str:
    """Text safe to paste into Claude's input box: line ends normalised, controls removed."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")


def well_formed(text: str) -> tuple[str, int]:
    """`text` with every code point UTF-8 cannot encode (a lone surrogate) replaced by
    U+FFFD, and how many were replaced.

    JSON may escape half of a surrogate pair (`"\\udfff"`), and Python decodes that (or
    undecodable argv bytes) into a str that msgpack, SQLite and log files all refuse. A
    pair that was split into two code points is joined again.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        pass
    else:
        return text, 0
    joined = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return joined, len(_SURROGATE.findall(text)) - 2 * _pairs_joined(text, joined)


def well_formed_data(value: Any) -> Any:
    """Decoded JSON or msgpack data (str, list, tuple, dict, numbers) with every string
    made `well_formed`; tuples come back as lists."""
    if isinstance(value, str):
        return well_formed(value)[0]
    if isinstance(value, dict):
        return {well_formed_data(k): well_formed_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [well_formed_data(item) for item in value]
    return value


def _pairs_joined(before: str, after: str) -> int:
    """Surrogate pairs that became one code point (each shortens the text by one)."""
    return len(before) - len(after)


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
