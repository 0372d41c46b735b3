"""Drawing the stand-in's screen: pure functions from state to lines to bytes.

Why: the bridge reads the pane with capture-pane and matches the real CLI's markers (the
idle line "❯" + NBSP between two rules, "esc to interrupt", dialog texts), so this module
owns those exact strings. The whole screen is redrawn on every change, each row addressed
explicitly, so a long line can never scroll or smear the layout.
"""

from __future__ import annotations

from .store import VERSION, Entry

PROMPT_MARK = "❯\u00a0"
SHELL_MARK = "!\u00a0"
SHELL_FOOTER = "  ! for shell mode"
RULE_CHAR = "─"
IDLE_FOOTER = "  ? for shortcuts"
BUSY_FOOTER = "  esc to interrupt"
SPINNER_GLYPHS = "·✢✳✶✻✽"
INTERRUPTED_LINE = "  ⎿  Interrupted · What should Claude do instead?"


def char_width(char: str) -> int:
    """Terminal cells of one character: 2 for wide East Asian ones, 0 for combining marks."""
    code = ord(char)
    if code < 0x300:
        return 1
    import unicodedata

    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def width(text: str) -> int:
    """Terminal cells of a string."""
    return sum(char_width(c) for c in text)


def clean(text: str) -> str:
    """Make text safe to print: no control character or escape sequence reaches the tty."""
    out = []
    for char in text.replace("\t", "    "):
        code = ord(char)
        if char != "\n" and (code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0):
            out.append("^" + chr((code + 0x40) % 0x80) if code < 0x80 else "\ufffd")
        else:
            out.append(char)
    return "".join(out)


def wrap(text: str, cols: int) -> list[str]:
    """Split text into lines no wider than cols (hard wrap, like a terminal would)."""
    cols = max(cols, 1)
    lines: list[str] = []
    for raw in clean(text).split("\n"):
        line: list[str] = []
        used = 0
        for char in raw:
            cells = char_width(char)
            if used + cells > cols:
                lines.append("".join(line))
                line, used = [], 0
            line.append(char)
            used += cells
        lines.append("".join(line))
    return lines


def block(first: str, rest: str, text: str, cols: int) -> list[str]:
    """Text wrapped under a prefix: first on the first line, rest on the others."""
    body = wrap(text, cols - width(first))
    return [(first if i == 0 else rest) + line for i, line in enumerate(body)]


def fit(line: str, cols: int) -> str:
    """Cut a line to the screen width so writing it can never wrap or scroll."""
    if len(line) <= cols and line.isascii():
        return line
    used = 0
    for index, char in enumerate(line):
        used += char_width(char)
        if used > cols:
            return line[:index]
    return line


def rule(cols: int) -> str:
    """A horizontal rule the width of the screen."""
    return RULE_CHAR * cols


def header(model: str, mode: str, cwd: str) -> list[str]:
    """The banner at the top of a session."""
    mode_text = "" if mode == "default" else f" · {mode}"
    return [f" ✻ Claude Code (stand-in) v{VERSION}", f"   {model}{mode_text}", f"   {cwd}"]


def entry_lines(entries: list[Entry], cols: int) -> list[str]:
    """The conversation: "> prompt", "⏺ answer", tool calls and their results."""
    lines: list[str] = []
    for kind, text in entries:
        if kind == "prompt":
            lines += ["", *block("> ", "  ", text, cols)]
        elif kind in ("answer", "tool"):
            lines += ["", *block("⏺ ", "  ", text, cols)]
        elif kind == "result":
            shown = text.rstrip("\n").split("\n")
            more = f"\n… +{len(shown) - 3} lines" if len(shown) > 3 else ""
            lines += block("  ⎿  ", "     ", "\n".join(shown[:3]) + more, cols)
        elif kind == "interrupted":
            lines.append(INTERRUPTED_LINE)
        else:
            lines += block("  ⎿  ", "     ", text, cols)
    return lines


def spinner(elapsed: float, verb: str) -> str:
    """The busy line above the input box, e.g. "✶ Thinking… (3s · ↓ 6 tokens)"."""
    glyph = SPINNER_GLYPHS[int(elapsed * 4) % len(SPINNER_GLYPHS)]
    return f"{glyph} {verb}… ({int(elapsed)}s · ↓ {int(elapsed * 7)} tokens)"


def choices(options: list[str], choice: int) -> list[str]:
    """Numbered options with the "❯" marker on the selected one."""
    return [
        (" ❯ " if i == choice else "   ") + f"{i + 1}. {text}" for i, text in enumerate(options)
    ]


def select_dialog(body: list[str], options: list[str], choice: int, cols: int) -> list[str]:
    """A start-up dialog: text, unnumbered options (Up/Down moves "❯"), Enter confirms."""
    lines = [rule(cols)]
    for paragraph in body:
        lines += [*block("  ", "  ", paragraph, cols), ""]
    lines += [("  ❯ " if i == choice else "    ") + text for i, text in enumerate(options)]
    return [*lines, "", "  Enter to confirm · Esc to cancel"]


TRUST_OPTIONS = ["No, exit", "Yes, I trust this folder"]
API_KEY_OPTIONS = ["Yes", "No (recommended)"]
BYPASS_OPTIONS = ["No, exit", "Yes, I accept"]


def trust_dialog(cwd: str, choice: int, cols: int) -> list[str]:
    """The folder trust dialog shown before a session starts in an untrusted folder."""
    return select_dialog(
        [
            "Accessing workspace:",
            cwd,
            "Quick safety check: Is this a project you created or one you trust? (Like your own"
            " code, a well-known open source project, or work from your team). If not, take a"
            " moment to review what's in this folder first.",
            "Claude Code'll be able to read, edit, and execute files here.",
        ],
        TRUST_OPTIONS,
        choice,
        cols,
    )


def api_key_dialog(key: str, choice: int, cols: int) -> list[str]:
    """The custom API key dialog (the key is not in customApiKeyResponses.approved)."""
    return select_dialog(
        [
            "Detected a custom API key in your environment",
            f"ANTHROPIC_API_KEY: sk-ant-...{key[-20:]}",
            "Do you want to use this API key?",
        ],
        API_KEY_OPTIONS,
        choice,
        cols,
    )


def bypass_dialog(choice: int, cols: int) -> list[str]:
    """The warning before a session runs with --dangerously-skip-permissions."""
    return select_dialog(
        [
            "WARNING: Claude Code running in Bypass Permissions mode",
            "In Bypass Permissions mode, Claude Code will not ask for your approval before"
            " running potentially dangerous commands.",
            "By proceeding, you accept all responsibility for actions taken while running in"
            " Bypass Permissions mode.",
        ],
        BYPASS_OPTIONS,
        choice,
        cols,
    )


def permission_options(cwd: str) -> list[str]:
    return ["Yes", f"Yes, and always allow access to {cwd} from this project", "No"]


def permission_dialog(command: str, cwd: str, choice: int, cols: int) -> list[str]:
    """The Bash permission dialog that replaces the input box while a tool waits."""
    dashes = "╌" * cols
    return [
        rule(cols),
        " Bash command",
        "",
        dashes,
        *block(" ", " ", command, cols),
        dashes,
        " Do you want to proceed?",
        *choices(permission_options(cwd), choice),
        "",
        " Esc to cancel · Tab to amend",
    ]


def question_dialog(
    header: str, question: str, options: list[str], choice: int, cols: int
) -> list[str]:
    """An AskUserQuestion screen: numbered options, then the CLI's own two extras."""
    shown = [*options, "Type something."]
    lines = [rule(cols), f" ☐ {header}", "", *block("", "", question, cols), ""]
    lines += [("❯ " if i == choice else "  ") + f"{i + 1}. {text}" for i, text in enumerate(shown)]
    lines += [rule(cols), f"  {len(shown) + 1}. Chat about this", ""]
    return [*lines, "Enter to select · ↑/↓ to navigate · Esc to cancel"]


def paint(lines: list[str], rows: int, cols: int, cursor: tuple[int, int] | None) -> bytes:
    """Bytes that redraw the screen: the last rows lines, top-aligned, cursor placed.

    cursor is (line index, column) in lines, or None to leave it hidden.
    """
    start = max(0, len(lines) - rows)
    shown = lines[start:]
    out = ["\x1b[?25l"]
    for row in range(rows):
        out.append(f"\x1b[{row + 1};1H\x1b[2K")
        if row < len(shown):
            out.append(fit(shown[row], cols))
    if cursor is not None and 0 <= cursor[0] - start < rows:
        out.append(f"\x1b[{cursor[0] - start + 1};{min(cursor[1], cols - 1) + 1}H\x1b[?25h")
    return "".join(out).encode("utf-8", "replace")
