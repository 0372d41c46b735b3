"""Helpers to run the REAL Claude Code CLI offline (against tests.support.fake_anthropic) in a
tmux pane.

With `VAI_CLAUDE_CODE_VERSION=latest|<version>` (pytest `--claude-code=...`) the binary is that
release, installed on first use into `.cache/claude-code-<version>` (see claude_versions.py).
Otherwise it is the pinned one (tests/claude-code-version), looked for in order:
  1. `<repo>/.cache/claude-code/node_modules/.bin/claude` (what CI installs),
  2. `/root/.cache/vai-claude/node_modules/.bin/claude`,
  3. the path in the environment variable `VAI_REAL_CLAUDE`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import psutil

from tests.support.claude_versions import requested_selection
from tests.support.harness import wait_until

REPO = Path(__file__).resolve().parents[2]
CANDIDATES = (
    REPO / ".cache" / "claude-code" / "node_modules" / ".bin" / "claude",
    Path("/root/.cache/vai-claude/node_modules/.bin/claude"),
)
ENV_VAR = "VAI_REAL_CLAUDE"
DEFAULT_API_KEY = "sk-ant-api03-fake-key-for-offline-tests-0123456789abcdef"
HOOK_EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PostToolUse",
    "Notification",
    "Stop",
    "SessionEnd",
)
NOT_FOUND_REASON = (
    "real Claude Code CLI not found: install it with `npm install --prefix .cache/claude-code "
    "@anthropic-ai/claude-code@$(cat tests/claude-code-version)` or set VAI_REAL_CLAUDE"
)


def find_real_claude() -> Path | None:
    """The requested version's binary (VAI_CLAUDE_CODE_VERSION), else the first existing,
    executable pinned `claude` binary, or None. A requested version that cannot be installed
    raises claude_versions.VersionUnavailable: it must not turn into skipped tests."""
    if (selection := requested_selection()) is not None:
        return selection.binary
    candidates = list(CANDIDATES)
    if extra := os.environ.get(ENV_VAR):
        candidates.append(Path(extra))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def seed_claude_home(
    home: Path,
    work_dir: Path,
    api_key: str = DEFAULT_API_KEY,
    *,
    trust: bool = True,
    approve_key: bool = True,
    default_mode: str = "acceptEdits",
    skip_dangerous_prompt: bool = False,
    extra_settings: Mapping[str, Any] | None = None,
) -> None:
    """Write `~/.claude.json` and `~/.claude/settings.json` so the CLI starts at its prompt.

    `trust=False` leaves out the folder trust (the trust dialog shows); `approve_key=False` leaves
    out the custom API key approval (the "Detected a custom API key" dialog shows).
    """
    home.mkdir(parents=True, exist_ok=True)
    state: dict[str, Any] = {
        "hasCompletedOnboarding": True,
        "numStartups": 1,
        "theme": "dark",
    }
    if approve_key:
        state["customApiKeyResponses"] = {"approved": [api_key[-20:]], "rejected": []}
    if trust:
        state["projects"] = {
            str(work_dir.resolve()): {
                "hasTrustDialogAccepted": True,
                "hasCompletedProjectOnboarding": True,
                "allowedTools": [],
            }
        }
    (home / ".claude.json").write_text(json.dumps(state, indent=2))
    settings: dict[str, Any] = {
        "permissions": {"defaultMode": default_mode, "disableAutoMode": "disable"},
    }
    if skip_dangerous_prompt:
        settings["skipDangerousModePermissionPrompt"] = True
    if extra_settings:
        settings.update(extra_settings)
    claude_dir = home / ".claude"
    claude_dir.mkdir(exist_ok=True)
    (claude_dir / "settings.json").write_text(json.dumps(settings, indent=2))


def real_claude_env(
    home: Path, tmpdir: Path, base_url: str, api_key: str = DEFAULT_API_KEY
) -> dict[str, str]:
    """The variables (only these, to add to an environment) that keep the CLI offline."""
    tmpdir.mkdir(parents=True, exist_ok=True)
    env = {
        "ANTHROPIC_BASE_URL": base_url,
        "ANTHROPIC_API_KEY": api_key,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "HOME": str(home),
        "TMPDIR": str(tmpdir),
    }
    if os.geteuid() == 0:
        env["IS_SANDBOX"] = "1"
    return env


def write_claude_wrapper(
    path: Path, env: Mapping[str, str], claude: Path | None = None, *, extra_args: str = ""
) -> Path:
    """Write an executable sh script that exports `env` and execs the real claude with "$@".

    Another program can use `path` as its claude command (e.g. the bridge runs
    `<command> --settings FILE --session-id UUID`). `extra_args` (already shell-quoted) go
    before "$@".
    """
    binary = claude or find_real_claude()
    if binary is None:
        raise FileNotFoundError(NOT_FOUND_REASON)
    lines = ["#!/bin/sh"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in sorted(env.items())]
    args = f" {extra_args}" if extra_args else ""
    lines.append(f'exec {shlex.quote(str(binary))}{args} "$@"')
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o755)
    return path


HOOK_WRITER = (
    "import os,sys;"
    "d=sys.stdin.buffer.read().strip().replace(b'\\n',b' ');"
    "f=os.open(sys.argv[1],os.O_WRONLY|os.O_APPEND|os.O_CREAT,0o600);"
    "os.write(f,d+b'\\n')"
)


def hook_settings(log_file: Path, events: tuple[str, ...] = HOOK_EVENTS) -> dict[str, Any]:
    """Settings whose hooks append each event's stdin JSON, as one line, to `log_file`.

    One `write()` per event on an O_APPEND file, so events firing at once never interleave.
    """
    command = shlex.join([sys.executable, "-I", "-S", "-c", HOOK_WRITER, str(log_file)])
    return {
        "hooks": {event: [{"hooks": [{"type": "command", "command": command}]}] for event in events}
    }


def read_hook_events(log_file: Path) -> list[dict[str, Any]]:
    """The hook events appended to `log_file` so far (half-written last lines are skipped)."""
    try:
        text = log_file.read_text()
    except FileNotFoundError:
        return []
    events: list[dict[str, Any]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


# --- driving the CLI in a tmux pane ---------------------------------------------------------

IDLE_PROMPT = "❯\u00a0"
RULE = "────"
BUSY_MARKER = "esc to interrupt"
DIALOG_MARKERS = ("Enter to confirm", "Do you want to proceed?", "Esc to cancel")


class Tmux(Protocol):
    def run(self, *args: str, check: bool = True) -> str: ...

    def capture(self, target: str) -> str: ...


def prompt_box(screen: str) -> list[str] | None:
    """The lines of the input box (between the last two `────` rules), or None."""
    lines = screen.splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith(RULE)]
    if len(rules) < 2:
        return None
    top, bottom = rules[-2], rules[-1]
    return lines[top + 1 : bottom]


def is_idle(screen: str) -> bool:
    """The empty prompt `❯` + NBSP between two rules, nothing running, no dialog."""
    if BUSY_MARKER in screen or any(marker in screen for marker in DIALOG_MARKERS):
        return False
    return prompt_box(screen) == [IDLE_PROMPT]


def is_busy(screen: str) -> bool:
    return BUSY_MARKER in screen


def box_text(screen: str) -> str:
    """The input box's content with the `❯ ` prompt and the NBSP removed ('' when empty)."""
    box = prompt_box(screen) or []
    text = "\n".join(box).replace("\u00a0", " ")
    return text.removeprefix("❯").strip()


class ClaudePane:
    """The real CLI in one tmux pane, plus the hook log its `--settings` write to."""

    def __init__(self, tmux: Tmux, name: str, hook_log: Path) -> None:
        self.tmux = tmux
        self.name = name
        self.hook_log = hook_log
        self.target = f"={name}:"
        self.buffer = f"vai-{name}"
        self.key_retries = 0  # how often a key (Enter) had to be sent again

    def start(self, command: str, work_dir: Path, width: int = 200, height: int = 50) -> None:
        self.tmux.run(
            "new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height),
            "-c", str(work_dir), command,
            # same command queue: set before the CLI can exit (its last screen stays readable)
            ";", "set-option", "-t", self.target, "remain-on-exit", "on",
        )  # fmt: skip

    def screen(self) -> str:
        return self.tmux.capture(self.target)

    def pane_dead(self) -> bool:
        out = self.tmux.run("display-message", "-p", "-t", self.target, "#{pane_dead}")
        return out.strip() == "1"

    def wait_screen(self, check: Callable[[str], object], timeout: float, what: str) -> str:
        """Poll capture-pane until `check(screen)` is truthy; the screen that satisfied it."""
        last: list[str] = [""]

        def probe() -> str | None:
            last[0] = self.screen()
            return last[0] if check(last[0]) else None

        try:
            return wait_until(probe, timeout, what, every=0.05)
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; last screen:\n{last[0]}") from None

    def wait_stable(self, quiet: float = 0.5, timeout: float = 15) -> str:
        """Wait until the screen has not changed for `quiet` seconds (a dialog that has just
        appeared re-renders once and resets its selection, dropping earlier keys)."""
        deadline = time.monotonic() + timeout
        last, since = self.screen(), time.monotonic()
        while True:
            time.sleep(0.05)
            now_screen, now = self.screen(), time.monotonic()
            if now_screen != last:
                last, since = now_screen, now
            elif now - since >= quiet:
                return last
            if now > deadline:
                raise TimeoutError(f"screen never settled for {quiet}s; last:\n{last}")

    def wait_idle(self, timeout: float = 30) -> str:
        return self.wait_screen(is_idle, timeout, "the idle prompt")

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for e in read_hook_events(self.hook_log)
            if name is None or e["hook_event_name"] == name
        ]

    def wait_event(
        self,
        name: str,
        timeout: float = 30,
        where: Callable[[dict[str, Any]], bool] = lambda _: True,
        after: int = 0,
    ) -> dict[str, Any]:
        """The first `name` hook event (beyond the first `after` of them) that `where` likes."""

        def probe() -> dict[str, Any] | None:
            return next((e for e in self.events(name)[after:] if where(e)), None)

        try:
            return wait_until(probe, timeout, f"hook {name}", every=0.05)
        except TimeoutError as exc:
            raise TimeoutError(
                f"{exc}; hooks so far: {[e['hook_event_name'] for e in self.events()]}; "
                f"screen:\n{self.screen()}"
            ) from None

    def keys(self, *keys: str) -> None:
        self.tmux.run("send-keys", "-t", self.target, *keys)

    def type(self, text: str) -> None:
        self.tmux.run("send-keys", "-t", self.target, "-l", text)

    def paste(self, text: str) -> None:
        """Bracketed paste (`paste-buffer -p`): the text arrives exactly, newlines included."""
        with tempfile.NamedTemporaryFile("w", delete=False, suffix=".txt") as handle:
            handle.write(text)
        try:
            self.tmux.run("load-buffer", "-b", self.buffer, handle.name)
        finally:
            os.unlink(handle.name)
        self.tmux.run("paste-buffer", "-p", "-d", "-b", self.buffer, "-t", self.target)

    def type_text(self, text: str, chunk: int = 400, pause: float = 0.05) -> None:
        """Type `text` with `send-keys -l`, in pieces small enough not to look like a paste.

        The CLI treats any input burst over 800 characters (or 4+ lines) as a paste and wraps
        it in `<pasted_content>`; a LF typed this way inserts a newline in the box.
        """
        for start in range(0, len(text), chunk):
            self.type(text[start : start + chunk])
            if start + chunk < len(text):
                time.sleep(pause)  # lets the CLI read each piece on its own

    def wait_echo(self, text: str, timeout: float = 10) -> str:
        """Wait until the input box shows `text` (or its `[Pasted text` stand-in)."""
        first = " ".join(text.strip().splitlines()[0].split())[:40] if text.strip() else ""

        def echoed(screen: str) -> bool:
            shown = box_text(screen)
            return bool(shown) and ("[Pasted text" in shown or first in " ".join(shown.split()))

        return self.wait_screen(echoed, timeout, f"the input box to show {first!r}")

    def press_until(
        self, key: str, done: Callable[[str], object], timeout: float = 15, what: str = ""
    ) -> str:
        """Send `key`, and again each second until `done(screen)`: keys sent while a dialog is
        still appearing are sometimes lost."""
        deadline = time.monotonic() + timeout
        while True:
            self.keys(key)
            try:
                return self.wait_screen(done, 1.0, what or f"{key} to take effect")
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise
                self.key_retries += 1

    def submit(
        self,
        text: str,
        *,
        how: str = "paste",
        timeout: float = 20,
        confirm: Callable[[], object] | None = None,
    ) -> dict[str, Any] | None:
        """Put `text` in the box (`how`: "paste" or "type"), wait for the echo, then
        `submit_enter`."""
        if how == "paste":
            self.paste(text)
        else:
            self.type_text(text)
        self.wait_echo(text)
        if confirm is not None:
            self.submit_enter(timeout=timeout, confirm=confirm)
            return None
        return self.submit_enter(timeout=timeout)

    def submit_enter(
        self, *, timeout: float = 20, confirm: Callable[[], object] | None = None
    ) -> dict[str, Any]:
        """Press Enter on what the box holds (again if the Enter was lost); the new
        UserPromptSubmit event. With `confirm` (slash commands fire no UserPromptSubmit),
        wait for `confirm()` instead and return {}."""
        before = len(self.events("UserPromptSubmit"))

        def submitted() -> object:
            if confirm is not None:
                return confirm()
            return self.events("UserPromptSubmit")[before:]

        deadline = time.monotonic() + timeout
        time.sleep(0.1)  # an Enter right after the echo is sometimes swallowed
        while True:
            self.keys("Enter")
            try:
                wait_until(submitted, 2, "the prompt to be submitted", every=0.05)
                break
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"prompt not submitted; screen:\n{self.screen()}") from None
                if box_text(self.screen()):
                    self.key_retries += 1
                    continue  # still in the box: the Enter was lost
                wait_until(submitted, timeout, "the prompt to be submitted (box cleared)")
                break
        return {} if confirm is not None else self.events("UserPromptSubmit")[before]


def processes_under(root: Path) -> list[psutil.Process]:
    """Live processes whose command line mentions `root` (the CLIs and hook commands a test
    started with its own unique directory)."""
    marker = str(root)
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        try:
            if proc.info["status"] == psutil.STATUS_ZOMBIE:
                continue
            if any(marker in part for part in proc.info["cmdline"] or ()):
                found.append(proc)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return [p for p in found if p.pid != os.getpid()]


def stop_all(tmux: Tmux, root: Path, timeout: float = 15) -> None:
    """Kill the tmux server, then wait until no process started under `root` is left (a CLI
    killed by SIGHUP still runs its SessionEnd hooks and writes to its HOME for a moment, which
    would race with removing `root`). Stragglers past `timeout` get SIGKILL."""
    tmux.run("kill-server", check=False)
    deadline = time.monotonic() + timeout
    while (left := processes_under(root)) and time.monotonic() < deadline:
        time.sleep(0.05)
    for proc in left:
        with contextlib.suppress(psutil.Error):
            proc.kill()
