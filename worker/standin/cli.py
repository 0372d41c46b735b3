"""Command line and environment knobs of the stand-in.

Why: the bridge starts Claude as `<command> --settings F --session-id U` (or --resume U),
and tests tune timing and faults through STANDIN_CLAUDE_* variables; both are parsed here
without argparse (start-up time), ignoring flags the stand-in does not model.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from .store import VERSION

DEFAULT_MODEL = "claude-sonnet-4-5"
MODES = ("acceptEdits", "bypassPermissions", "default", "dontAsk", "plan")
_VALUE_ATTRS = {
    "--settings": "settings",
    "--session-id": "session_id",
    "--resume": "resume",
    "-r": "resume",
    "--permission-mode": "permission_mode",
    "--model": "model",
}
_IGNORED_VALUE_FLAGS = frozenset(
    {
        "--add-dir",
        "--allowedTools",
        "--allowed-tools",
        "--disallowedTools",
        "--disallowed-tools",
        "--append-system-prompt",
        "--system-prompt",
        "--mcp-config",
        "--output-format",
        "--input-format",
        "--fallback-model",
        "--agents",
        "--setting-sources",
        "--max-turns",
        "--permission-prompt-tool",
        "--plugin-dir",
    }
)
USAGE = """Usage: standin_claude [options] [prompt]

A stand-in for the Claude Code CLI (no model; deterministic answers).
  --settings FILE_OR_JSON   hooks config        --session-id UUID   new conversation
  --resume UUID, -r UUID    continue one        -c, --continue      continue the latest
  --permission-mode MODE    --model NAME        --dangerously-skip-permissions
Prompts: !sleep N, !bash CMD, !ask [QUESTION | OPTION | OPTION...], !ask+ (the same,
several options may be picked), !crash, !long N; anything else is answered "echo: <prompt>".
"""


class EarlyExitError(Exception):
    """Stop before the UI starts: text for stdout (code 0) or stderr, and an exit code."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text


class Options:
    """Parsed command line."""

    def __init__(self) -> None:
        self.settings: str | None = None
        self.session_id: str | None = None
        self.resume: str | None = None
        self.continue_last = False
        self.skip_permissions = False
        self.permission_mode: str | None = None
        self.model = DEFAULT_MODEL
        self.prompt: str | None = None


def parse_args(argv: list[str]) -> Options:
    """Parse like the real CLI for the flags that matter; unknown flags are ignored."""
    opts = Options()
    index = 0
    while index < len(argv):
        arg = argv[index]
        index += 1
        name, eq, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in _VALUE_ATTRS or name in _IGNORED_VALUE_FLAGS:
            if eq:
                value = inline
            elif index < len(argv) and not argv[index].startswith("-"):
                value = argv[index]
                index += 1
            else:
                raise EarlyExitError(1, f"error: option '{name} <value>' argument missing\n")
            if name in _VALUE_ATTRS:
                setattr(opts, _VALUE_ATTRS[name], value)
        elif name in ("-v", "--version"):
            raise EarlyExitError(0, f"{VERSION} (Claude Code)\n")
        elif name in ("-h", "--help"):
            raise EarlyExitError(0, USAGE)
        elif name == "--dangerously-skip-permissions":
            opts.skip_permissions = True
        elif name in ("-c", "--continue"):
            opts.continue_last = True
        elif name in ("-p", "--print"):
            raise EarlyExitError(1, "Error: the stand-in has no --print mode\n")
        elif not arg.startswith("-") and opts.prompt is None:
            opts.prompt = arg
    _check(opts)
    return opts


def _check(opts: Options) -> None:
    """Refuse what the real CLI refuses before starting its UI."""
    if opts.permission_mode is not None and opts.permission_mode not in MODES:
        raise EarlyExitError(
            1,
            f"error: option '--permission-mode <mode>' argument '{opts.permission_mode}' is "
            f"invalid. Allowed choices are {', '.join(MODES)}.\n",
        )
    if opts.skip_permissions and os.geteuid() == 0 and os.environ.get("IS_SANDBOX") != "1":
        raise EarlyExitError(
            1,
            "--dangerously-skip-permissions cannot be used with root/sudo privileges "
            "for security reasons\n",
        )


class Knobs:
    """STANDIN_CLAUDE_* timing and fault knobs (all times in seconds here)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.startup = _number(env, "STANDIN_CLAUDE_STARTUP_MS", 300) / 1000
        self.delay = _number(env, "STANDIN_CLAUDE_DELAY", 0)
        self.drop_enter = _number(env, "STANDIN_CLAUDE_DROP_ENTER_MS", 0) / 1000
        self.permission_notify = _number(env, "STANDIN_CLAUDE_PERMISSION_NOTIFY_MS", 200) / 1000
        self.idle_notify = _number(env, "STANDIN_CLAUDE_IDLE_NOTIFY_MS", 0) / 1000
        # Other Stop hooks still running (the real CLI runs them side by side): the busy
        # screen stays up this long after the bridge's own Stop hook returned.
        self.stop_hooks = _number(env, "STANDIN_CLAUDE_STOP_HOOKS_MS", 0) / 1000
        self.trust_dialog = env.get("STANDIN_CLAUDE_TRUST_DIALOG", "") == "1"
        self.api_key_dialog = env.get("STANDIN_CLAUDE_API_KEY_DIALOG", "") == "1"
        self.log = env.get("STANDIN_CLAUDE_LOG") or None


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    """A non-negative number from the environment; the default if unset or malformed."""
    try:
        return max(0.0, float(env.get(name, default)))
    except ValueError:
        return default


def seconds(text: str) -> float | None:
    """The N of "!sleep N", or None if it is not a usable number."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if 0 <= value < 86400 else None


def long_answer(size: int) -> str:
    """An answer of exactly size characters with a fenced code block in the middle.

    Why: tests of reply splitting need long text whose fence must not be broken.
    """
    if size < 60:
        return "x" * size
    third = size // 3
    prose = "".join(
        f"Line {i:04d} of the long answer, plain words to fill it up.\n"
        for i in range(size // 20 + 2)
    )
    code = "".join(f"print({i})  # code line {i:04d}\n" for i in range(size // 10 + 2))
    fence_open, fence_close = "```python\n", "\n```\n"
    head = prose[: third - 1] + "\n"
    body = code[: third - len(fence_open) - len(fence_close)]
    tail = prose[: size - 2 * third]
    return head + fence_open + body + fence_close + tail
