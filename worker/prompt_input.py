"""How a Discord message becomes keystrokes in Claude's input box: pure rules.

Measured against the real CLI 2.1.330 (tests/fixtures/real_screens/README.md):

- A bracketed paste (`paste-buffer -p`) is inserted verbatim only when it holds at most 2
  line feeds and 800 characters; a bigger one shows as `[Pasted text #N]` and Claude then
  receives it wrapped in `<pasted_content>`. So the text is pasted in pieces under both
  limits, one at a time: each piece is sent only after the pane redrew for the previous
  one, because two pieces read in one go count as one (bigger) paste. 14,000 characters
  arrive exactly in about half a second.
- Nothing typed reaches the pane as a key: control characters and escape sequences are
  removed first (protocol.text.sanitize_prompt), and inside a bracketed paste a line feed
  is a newline in the box, never Enter.
- The CLI turns a TAB in a paste into four spaces; the worker does the same up front so
  the text it remembers is the text Claude gets.
- A box that starts with `!` switches the CLI into shell mode (the message would run as a
  shell command). A leading space prevents that, and the CLI trims it before the prompt
  goes to the model, so Claude still sees the message exactly.
- A message starting with `/` is a Claude Code slash command and is passed unchanged.
"""

from __future__ import annotations

from vai.protocol.text import sanitize_prompt

MAX_PIECE_CHARS = 700
MAX_PIECE_NEWLINES = 2
TAB = "    "


def prepare(content: str) -> str:
    """The exact text to put in the box for a message's content."""
    text = sanitize_prompt(content).replace("\t", TAB)
    if text.startswith("!"):
        text = " " + text
    return text


def is_slash_command(text: str) -> bool:
    """`/name ...` (not a path like `/tmp/x`): the CLI runs it, no model turn follows."""
    if not text.startswith("/") or len(text) < 2 or not text[1].isalpha():
        return False
    name = text[1:].split(None, 1)[0]
    return "/" not in name


def pieces(text: str) -> list[str]:
    """The text cut into pastes of at most 700 characters and 2 line feeds each."""
    out: list[str] = []
    current: list[str] = []
    size = newlines = 0
    for char in text:
        if size + 1 > MAX_PIECE_CHARS or (char == "\n" and newlines >= MAX_PIECE_NEWLINES):
            out.append("".join(current))
            current, size, newlines = [], 0, 0
        current.append(char)
        size += 1
        newlines += char == "\n"
    if current:
        out.append("".join(current))
    return out


def normalised(text: str) -> str:
    return " ".join(text.split())


def same_prompt(typed: str, seen: str) -> bool:
    """Is `seen` (a hook's prompt, a box's text) the prompt `typed`, whitespace aside?"""
    return normalised(typed) == normalised(seen)


def _compact(text: str) -> str:
    return "".join(text.split())


def box_shows(box_text: str, text: str, scrolled: bool) -> bool:
    """Does the input box hold `text` (its end, when the box scrolled)?

    Whitespace is left out of the comparison: the box wraps long lines where it likes.
    """
    shown, wanted = _compact(box_text), _compact(text)
    if not shown:
        return False
    return wanted.endswith(shown) if scrolled else shown == wanted
