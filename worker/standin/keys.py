"""Turn raw terminal bytes into key events, the way the real CLI's TUI sees them.

Why: the bridge types into the pane with tmux send-keys and paste-buffer, and the stand-in
must see the same boundaries the real CLI does: CR submits, LF is a newline, a lone ESC is
the Escape key, a bracketed paste is one event whose text is taken literally.
"""

from __future__ import annotations

import codecs
from typing import NamedTuple

ESC_WAIT = 0.05
"""Seconds to wait after a lone ESC byte before deciding it is the Escape key."""

PASTE_END = b"\x1b[201~"
_CONTROLS = {
    0x0D: "enter",
    0x0A: "newline",
    0x7F: "backspace",
    0x08: "backspace",
    0x03: "ctrl_c",
    0x04: "ctrl_d",
    0x09: "tab",
}
_FINAL_KEYS = {ord("A"): "up", ord("B"): "down"}


class Key(NamedTuple):
    """One key event: kind is text, paste, enter, newline, backspace, escape, ctrl_c,
    ctrl_d, tab, up, down or other; text is set for text and paste."""

    kind: str
    text: str = ""


class KeyParser:
    """Incremental parser: feed() bytes as they arrive, flush() when esc_deadline passes."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._paste: bytearray | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.esc_deadline: float | None = None

    def feed(self, data: bytes, now: float) -> list[Key]:
        """Parse what can be parsed; an incomplete escape sequence waits for more bytes."""
        self._buf += data
        return self._drain(now, final=False)

    def flush(self, now: float) -> list[Key]:
        """The wait for the rest of an escape sequence is over: a pending ESC is Escape."""
        return self._drain(now, final=True)

    def _drain(self, now: float, final: bool) -> list[Key]:
        """Consume the buffer into keys, stopping at an incomplete sequence."""
        keys: list[Key] = []
        self.esc_deadline = None
        while self._buf:
            if self._paste is not None:
                if not self._take_paste(keys):
                    break
                continue
            first = self._buf[0]
            if first == 0x1B:
                used = self._escape(keys, final)
                if used == 0:
                    self.esc_deadline = now + ESC_WAIT
                    break
                del self._buf[:used]
            elif first < 0x20 or first == 0x7F:
                keys.append(Key(_CONTROLS.get(first, "other")))
                del self._buf[:1]
            else:
                used = self._text_run()
                text = self._decoder.decode(bytes(self._buf[:used]))
                del self._buf[:used]
                if text:
                    keys.append(Key("text", text))
        return keys

    def _text_run(self) -> int:
        """Length of the leading run of printable bytes (UTF-8 continuation bytes included)."""
        for index, byte in enumerate(self._buf):
            if byte < 0x20 or byte == 0x7F:
                return index
        return len(self._buf)

    def _escape(self, keys: list[Key], final: bool) -> int:
        """Parse a sequence starting with ESC; return bytes used, 0 if it may be incomplete."""
        buf = self._buf
        if len(buf) == 1 or buf[1] not in (ord("["), ord("O")):
            if len(buf) == 1 and not final:
                return 0
            keys.append(Key("escape"))
            return 1
        end = self._sequence_end()
        if end is None:
            if not final:
                return 0
            keys.append(Key("escape"))
            return 1
        if end < 0:
            keys.append(Key("escape"))
            return 1
        body = bytes(buf[2 : end + 1])
        if buf[1] == ord("[") and body == b"200~":
            self._paste = bytearray()
        else:
            keys.append(Key(_FINAL_KEYS.get(buf[end], "other")))
        return end + 1

    def _sequence_end(self) -> int | None:
        """Index of the final byte of a CSI/SS3 sequence; None if incomplete, -1 if malformed."""
        buf = self._buf
        if buf[1] == ord("O"):
            return 2 if len(buf) > 2 else None
        for index in range(2, len(buf)):
            byte = buf[index]
            if 0x40 <= byte <= 0x7E:
                return index
            if not 0x20 <= byte <= 0x3F:
                return -1
        return None

    def _take_paste(self, keys: list[Key]) -> bool:
        """Collect bracketed-paste bytes; emit the paste once the end marker is seen."""
        assert self._paste is not None
        at = self._buf.find(PASTE_END)
        if at < 0:
            keep = len(PASTE_END) - 1
            if len(self._buf) > keep:
                self._paste += self._buf[:-keep]
                del self._buf[:-keep]
            return False
        self._paste += self._buf[:at]
        del self._buf[: at + len(PASTE_END)]
        text = bytes(self._paste).decode("utf-8", "replace")
        self._paste = None
        keys.append(Key("paste", text.replace("\r\n", "\n").replace("\r", "\n")))
        return True
