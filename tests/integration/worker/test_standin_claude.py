"""The Claude Code stand-in, driven the way the bridge drives the real CLI: in a tmux pane.

Every test waits for a condition (screen text, a hook, a log line) with a deadline instead of
sleeping, except where the behaviour under test is itself a time window (the lost-Enter race).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.harness import REPO, wait_until
from tests.support.tmux import TmuxServer
from vai.worker.standin.app import _ask_input
from vai.worker.standin.cli import long_answer
from vai.worker.standin.keys import ESC_WAIT, Key, KeyParser

STANDIN = REPO / "worker" / "standin_claude.py"
EVENTS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "Notification",
    "Stop",
    "SessionEnd",
)
IDLE_LINE = "❯\u00a0"
T = TypeVar("T")


class Pane:
    """One stand-in in a tmux pane, with its own HOME, hook log and event log."""

    def __init__(self, tmux: TmuxServer, root: Path) -> None:
        self.tmux = tmux
        self.root = root
        self.home = root / "home"
        self.work = root / "work_dir"
        self.hook_file = root / "hooks.jsonl"
        self.log_file = root / "log.jsonl"
        self.rc_file = root / "rc"
        self.settings = root / "settings.json"
        self.home.mkdir()
        self.work.mkdir()
        self.write_settings()

    def write_settings(self, extra: dict[str, Any] | None = None) -> None:
        """Every event appends its stdin JSON as one line to hook_file."""
        record = f"cat >> {self.hook_file}; echo >> {self.hook_file}"
        hooks: dict[str, Any] = {
            event: [{"hooks": [{"type": "command", "command": record}]}] for event in EVENTS
        }
        hooks.update(extra or {})
        self.settings.write_text(json.dumps({"hooks": hooks}))

    def command(self, *args: str, env: dict[str, str] | None = None) -> list[str]:
        """argv of the stand-in with this pane's HOME, log and settings."""
        base = {
            "HOME": str(self.home),
            "STANDIN_CLAUDE_STARTUP_MS": "0",
            "STANDIN_CLAUDE_LOG": str(self.log_file),
        }
        assigns = [f"{k}={v}" for k, v in {**base, **(env or {})}.items()]
        argv = [sys.executable, str(STANDIN), "--settings", str(self.settings), *args]
        return ["env", *assigns, *argv]

    def start(self, *args: str, env: dict[str, str] | None = None, wait_idle: bool = True) -> None:
        """Start it in session s1 (200x50); its exit code lands in rc_file."""
        self.rc_file.unlink(missing_ok=True)
        argv = self.command(*args, env=env)
        shell = f"{shlex.join(argv)}; echo $? > {self.rc_file}"
        wait_until(lambda: not self.tmux.has_session("s1"), what="previous pane gone")
        size = ["-x", "200", "-y", "50"]
        self.tmux.run("new-session", "-d", *size, "-s", "s1", "-c", str(self.work), shell)
        if wait_idle:
            self.wait_idle()

    def lines(self) -> list[str]:
        """The visible screen, one string per row."""
        if not self.tmux.has_session("s1"):
            return []
        return self.tmux.capture("s1").removesuffix("\n").split("\n")

    def text(self) -> str:
        """The visible screen as one string."""
        return "\n".join(self.lines())

    def is_idle(self) -> bool:
        """The bridge's idle test: the bare prompt line, and no esc to interrupt."""
        lines = self.lines()
        return IDLE_LINE in lines and not any("esc to interrupt" in line for line in lines)

    def is_busy(self) -> bool:
        """The bridge's busy test: esc to interrupt in the footer."""
        return "esc to interrupt" in self.text()

    def wait_idle(self) -> None:
        """Until the idle prompt is on screen."""
        wait_until(self.is_idle, what="idle screen")

    def wait_text(self, text: str, timeout: float = 5.0) -> None:
        """Until text is on screen."""
        wait_until(lambda: text in self.text(), timeout, what=repr(text))

    def type(self, text: str) -> None:
        """Type text literally and wait for the box to show it (the safe typing recipe)."""
        self.tmux.run("send-keys", "-t", "s1", "-l", text)
        last = text.rsplit("\n", maxsplit=1)[-1]
        wait_until(lambda: any(line.endswith(last) for line in self.lines()), what="echo")

    def key(self, *keys: str) -> None:
        """Send tmux key names (Enter, Escape, C-j, C-c, ...)."""
        self.tmux.run("send-keys", "-t", "s1", *keys)

    def prompt(self, text: str) -> None:
        """Type text, then Enter."""
        self.type(text)
        self.key("Enter")

    def hooks(self, event: str | None = None) -> list[dict[str, Any]]:
        """Hook payloads recorded so far, optionally of one event."""
        if not self.hook_file.exists():
            return []
        found = [json.loads(line) for line in self.hook_file.read_text().splitlines() if line]
        return [h for h in found if event is None or h["hook_event_name"] == event]

    def wait_hook(self, event: str, count: int = 1) -> dict[str, Any]:
        """Until the count-th payload of event has been recorded; return it."""
        found = wait_until(lambda: len(self.hooks(event)) >= count, what=event)
        assert found
        return self.hooks(event)[count - 1]

    def press(self, key: str, until: Callable[[], object], what: str = "") -> None:
        """Send key, again every half second until `until()`: like the real CLI, a dialog
        that has just appeared drops keys for a moment."""
        deadline = time.monotonic() + 5
        while True:
            self.key(key)
            try:
                wait_until(until, 0.5, what)
                return
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise

    def events(self) -> list[str]:
        """Names of the recorded hook events, in order."""
        return [h["hook_event_name"] for h in self.hooks()]

    def log(self, event: str | None = None) -> list[dict[str, Any]]:
        """STANDIN_CLAUDE_LOG records, optionally of one event."""
        if not self.log_file.exists():
            return []
        found = [json.loads(line) for line in self.log_file.read_text().splitlines()]
        return [r for r in found if event is None or r["event"] == event]

    def exit_code(self) -> int:
        """Wait for the stand-in to exit and return its exit code."""
        text = wait_until(
            lambda: self.rc_file.read_text() if self.rc_file.exists() else None, what="exit"
        )
        return int(text)

    def transcript(self, session_id: str) -> list[dict[str, Any]]:
        """Transcript records of a session."""
        folder = str(self.work).replace("/", "-").replace("_", "-")
        path = self.home / ".claude" / "projects" / folder / f"{session_id}.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def pane(tmux_server: TmuxServer, short_tmp: Path) -> Pane:
    return Pane(tmux_server, short_tmp)


# ---- screen and the basic turn ------------------------------------------------------------


def test_idle_screen_shape(pane: Pane) -> None:
    pane.start()
    lines = [line.rstrip(" ") for line in pane.lines()]
    at = lines.index(IDLE_LINE)
    assert set(lines[at - 1]) == {"─"} and set(lines[at + 1]) == {"─"}
    assert len(lines[at - 1]) == 200
    assert lines[at + 2] == "  ? for shortcuts"
    assert "esc to interrupt" not in pane.text()
    start = pane.wait_hook("SessionStart")
    assert start["source"] == "startup" and start["model"]
    assert start["cwd"] == str(pane.work)
    assert set(start) >= {"session_id", "transcript_path", "cwd", "hook_event_name"}


def test_prompt_fires_hooks_and_writes_transcript(pane: Pane) -> None:
    pane.start()
    pane.prompt("hello /tmp/some_path")
    stop = pane.wait_hook("Stop")
    submit = pane.hooks("UserPromptSubmit")[0]
    assert pane.events() == ["SessionStart", "UserPromptSubmit", "Stop"]
    assert submit["prompt"] == "hello /tmp/some_path"
    assert submit["permission_mode"] == "default"
    assert stop["last_assistant_message"] == "echo: hello /tmp/some_path"
    assert stop["stop_hook_active"] is False
    assert stop["prompt_id"] == submit["prompt_id"]
    records = pane.transcript(submit["session_id"])
    assert submit["transcript_path"].endswith(f"{submit['session_id']}.jsonl")
    assert [r["type"] for r in records] == ["user", "assistant"]
    assert records[0]["message"] == {"role": "user", "content": "hello /tmp/some_path"}
    assert records[1]["message"]["content"] == [
        {"type": "text", "text": "echo: hello /tmp/some_path"}
    ]
    assert records[1]["parentUuid"] == records[0]["uuid"]
    pane.wait_idle()
    assert "⏺ echo: hello /tmp/some_path" in pane.lines()
    prompts = pane.log("prompt")
    assert [p["prompt_id"] for p in prompts] == [submit["prompt_id"]]


def test_big_bracketed_paste_arrives_wrapped(pane: Pane, short_tmp: Path) -> None:
    """Like the real CLI: over 3 lines a paste shows as a reference and is submitted inside
    <pasted_content> (the worker pastes in small pieces to avoid it); tabs become spaces."""
    text = 'first line\n  indented $HOME `x` "q" \\n\n\ttabbed\nünïcödé ✓\nlast line'
    (short_tmp / "paste.txt").write_text(text)
    pane.start()
    pane.tmux.run("load-buffer", "-b", "p1", str(short_tmp / "paste.txt"))
    pane.tmux.run("paste-buffer", "-p", "-b", "p1", "-t", "s1")
    pane.wait_text(IDLE_LINE + "[Pasted text #1 +4 lines]")
    assert pane.hooks("UserPromptSubmit") == []
    pane.key("Enter")
    prompt = pane.wait_hook("UserPromptSubmit")["prompt"]
    match = re.fullmatch(
        r'\n\n<pasted_content id="([0-9a-f]{4})">\n(.*)\n</pasted_content id="\1">\n', prompt, re.S
    )
    assert match is not None, prompt
    assert match.group(2) == text.replace("\t", "    ")


def test_small_pastes_arrive_exactly(pane: Pane) -> None:
    pane.start()
    for piece in ("one\ntwo\n", "three\tx\nfour"):
        pane.tmux.run("set-buffer", "-b", "p3", piece)
        pane.tmux.run("paste-buffer", "-p", "-d", "-b", "p3", "-t", "s1")
    pane.wait_text("  four")
    pane.key("Enter")
    assert pane.wait_hook("UserPromptSubmit")["prompt"] == "one\ntwo\nthree    x\nfour"
    assert pane.wait_hook("Stop")["last_assistant_message"] == "echo: one\ntwo\nthree    x\nfour"


def test_bang_starts_shell_mode_unless_it_follows_a_space(pane: Pane) -> None:
    pane.start()
    pane.tmux.run("set-buffer", "-b", "p4", "!echo shell-ran")
    pane.tmux.run("paste-buffer", "-p", "-d", "-b", "p4", "-t", "s1")
    pane.wait_text("! for shell mode")
    assert "!\u00a0echo shell-ran" in pane.lines()
    pane.key("Enter")
    pane.wait_text("shell-ran")
    assert pane.hooks("UserPromptSubmit") == []
    pane.wait_idle()
    pane.prompt(" !not a command")
    assert pane.wait_hook("UserPromptSubmit")["prompt"] == " !not a command"
    assert pane.wait_hook("Stop")["last_assistant_message"] == "echo: !not a command"


def test_short_paste_is_shown_inline(pane: Pane) -> None:
    pane.start()
    pane.tmux.run("set-buffer", "-b", "p2", "two\nlines")
    pane.tmux.run("paste-buffer", "-p", "-b", "p2", "-t", "s1")
    pane.wait_text(IDLE_LINE + "two")
    assert "  lines" in pane.lines()


def test_line_feed_inserts_a_newline_without_submitting(pane: Pane) -> None:
    pane.start()
    pane.type("alpha")
    pane.key("C-j")
    pane.type("beta")
    assert IDLE_LINE + "alpha" in pane.lines() and "  beta" in pane.lines()
    assert pane.hooks("UserPromptSubmit") == []
    pane.key("BSpace")
    wait_until(lambda: "  bet" in pane.lines())
    pane.key("Enter")
    assert pane.wait_hook("UserPromptSubmit")["prompt"] == "alpha\nbet"


# ---- busy, queue, interrupt ---------------------------------------------------------------


def test_busy_screen_and_typing_while_busy_is_queued(pane: Pane) -> None:
    pane.start()
    pane.prompt(" !sleep 1")
    wait_until(pane.is_busy, what="busy")
    assert re.search(r"^. \w+… \(\d+s · ↓ \d+ tokens\)$", pane.text(), re.M)
    assert IDLE_LINE in pane.lines()
    pane.prompt("next one")
    pane.wait_text("Queued · next one")
    assert len(pane.hooks("UserPromptSubmit")) == 1
    second = pane.wait_hook("Stop", 2)
    assert second["last_assistant_message"] == "echo: next one"
    assert pane.events()[1:] == ["UserPromptSubmit", "Stop", "UserPromptSubmit", "Stop"]
    assert pane.hooks("Stop")[0]["last_assistant_message"] == "slept 1"
    pane.wait_idle()


def test_escape_interrupts_without_stop(pane: Pane) -> None:
    pane.start()
    pane.prompt(" !sleep 30")
    submit = pane.wait_hook("UserPromptSubmit")
    wait_until(pane.is_busy, what="busy")
    pane.key("Escape")
    # Before any answer, the prompt goes back into the box (real CLI 2.1.330).
    wait_until(lambda: IDLE_LINE + " !sleep 30" in pane.lines(), what="the prompt back")
    assert not pane.is_busy()
    end = wait_until(lambda: pane.log("turn_end"), what="turn_end")[0]
    assert end["interrupted"] is True
    assert pane.hooks("Stop") == []
    records = pane.transcript(submit["session_id"])
    assert records[-1]["message"]["content"][0]["text"] == "[Request interrupted by user]"
    pane.key("C-c")
    wait_until(lambda: IDLE_LINE in pane.lines(), what="box cleared")

    # A prompt queued meanwhile is sent at once when the turn is interrupted.
    wait_until(lambda: "Press Ctrl-C again to exit" not in pane.text(), what="exit hint gone")
    pane.prompt(" !sleep 30")
    wait_until(pane.is_busy, what="busy")
    pane.prompt("was queued")
    pane.wait_text("Queued · was queued")
    pane.key("Escape")
    assert pane.wait_hook("Stop")["last_assistant_message"] == "echo: was queued"
    pane.prompt("after")
    assert pane.wait_hook("Stop", 2)["last_assistant_message"] == "echo: after"


# ---- sessions -----------------------------------------------------------------------------


def test_session_id_resume_and_reuse(pane: Pane) -> None:
    session = "3f1c1d2e-1111-4222-8333-444455556666"
    pane.start("--session-id", session)
    pane.prompt("remember me")
    pane.wait_hook("Stop")
    pane.prompt("/exit")
    assert pane.exit_code() == 0
    assert pane.hooks("SessionEnd")[-1]["reason"] == "prompt_input_exit"

    argv = pane.command("--session-id", session)
    reuse = subprocess.run(argv, cwd=pane.work, capture_output=True, text=True, check=False)
    assert reuse.returncode == 1
    assert f"Error: Session ID {session} is already in use." in reuse.stderr

    pane.start("--resume", session)
    assert "> remember me" in pane.lines() and "⏺ echo: remember me" in pane.lines()
    start = pane.wait_hook("SessionStart", 2)
    assert start["source"] == "resume" and start["session_id"] == session
    pane.prompt("again")
    pane.wait_hook("Stop", 2)
    assert len(pane.transcript(session)) == 4


def test_refusals_before_the_ui(pane: Pane) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = pane.command(*args)
        return subprocess.run(argv, cwd=pane.work, capture_output=True, text=True, check=False)

    unknown = "9a0b1c2d-0000-4000-8000-000000000000"
    missing = run("--resume", unknown)
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"No conversation found with session ID: {unknown}"
    assert run("--session-id", "not-a-uuid").returncode == 1
    version = run("--version", "--some-unknown-flag")
    assert version.returncode == 0 and version.stdout.startswith("2.")


def test_clear_starts_a_new_session(pane: Pane) -> None:
    pane.start()
    pane.prompt("before")
    first = pane.wait_hook("Stop")["session_id"]
    pane.prompt("/clear")
    start = pane.wait_hook("SessionStart", 2)
    end = pane.hooks("SessionEnd")[0]
    assert end["reason"] == "clear" and end["session_id"] == first
    assert start["source"] == "clear" and start["session_id"] != first
    assert pane.events()[-2:] == ["SessionEnd", "SessionStart"]
    pane.wait_idle()
    assert "> before" not in pane.lines()
    pane.prompt("after")
    assert pane.wait_hook("Stop", 2)["session_id"] == start["session_id"]


def test_unknown_slash_command(pane: Pane) -> None:
    pane.start()
    pane.prompt("/nosuchcommand arg")
    pane.wait_text("Unknown slash command: nosuchcommand")
    assert pane.hooks("UserPromptSubmit") == []


# ---- tools --------------------------------------------------------------------------------


def test_bash_permission_dialog_allowed_with_1(pane: Pane) -> None:
    pane.start()
    pane.prompt(" !bash echo from-tool")
    pane.wait_text("Do you want to proceed?")
    text = pane.text()
    assert "Bash command" in text and "echo from-tool" in text
    assert " ❯ 1. Yes" in pane.lines() and "   3. No" in pane.lines()
    assert " Esc to cancel · Tab to amend" in pane.lines()
    assert IDLE_LINE not in pane.lines() and "esc to interrupt" not in text
    note = pane.wait_hook("Notification")
    assert note["notification_type"] == "permission_prompt"
    pane.press("1", lambda: pane.hooks("Stop"), "the tool to run")
    stop = pane.wait_hook("Stop")
    assert stop["last_assistant_message"] == "from-tool"
    pre, post = pane.hooks("PreToolUse")[0], pane.hooks("PostToolUse")[0]
    assert pre["tool_name"] == "Bash" and pre["tool_input"] == {"command": "echo from-tool"}
    assert pre["prompt_id"] == stop["prompt_id"] == post["prompt_id"]
    assert post["tool_use_id"] == pre["tool_use_id"]
    assert post["tool_response"] == {"stdout": "from-tool", "stderr": "", "interrupted": False}
    assert isinstance(post["duration_ms"], int)
    assert pane.events() == [
        "SessionStart",
        "UserPromptSubmit",
        "PreToolUse",
        "PermissionRequest",
        "Notification",
        "PostToolUse",
        "Stop",
    ]


def test_a_just_shown_dialog_drops_keys(pane: Pane) -> None:
    pane.start()
    pane.prompt(" !bash echo later")
    pane.wait_text("Do you want to proceed?")
    pane.key("1")  # within the dialog's first moments: lost, like the real CLI's
    time.sleep(0.6)
    assert "Do you want to proceed?" in pane.text()
    pane.key("1")
    assert pane.wait_hook("Stop")["last_assistant_message"] == "later"


def test_bash_permission_denied_in_the_dialog_ends_the_turn(pane: Pane) -> None:
    """Refused in the dialog (3, or Escape): the turn ends like an interrupt, no Stop."""
    pane.start()
    pane.prompt(" !bash echo never")
    pane.wait_text("Do you want to proceed?")
    pane.press("3", lambda: "Do you want to proceed?" not in pane.text(), "the refusal")
    pane.wait_text("Interrupted · What should Claude do instead?")
    pane.wait_idle()
    assert pane.hooks("PostToolUse") == [] and pane.hooks("Stop") == []
    pane.prompt("next")
    assert pane.wait_hook("Stop")["last_assistant_message"] == "echo: next"


def test_permission_request_hook_decides_while_the_dialog_shows(pane: Pane) -> None:
    deny = json.dumps(
        {
            "hookSpecificOutput": {
                "hookEventName": "PermissionRequest",
                "decision": {"behavior": "deny", "message": "not today"},
            }
        }
    )
    gate = pane.root / "gate"
    wait = f"while [ ! -e {gate} ]; do sleep 0.05; done"
    hook = {"type": "command", "command": f"cat > /dev/null; {wait}; echo {shlex.quote(deny)}"}
    pane.write_settings({"PermissionRequest": [{"matcher": "Bash", "hooks": [hook]}]})
    pane.start()
    pane.prompt(" !bash echo never")
    pane.wait_text("Do you want to proceed?")  # shown while the hook runs
    gate.touch()
    assert pane.wait_hook("Stop")["last_assistant_message"] == "not today"
    assert pane.hooks("PostToolUse") == []


def test_ask_user_question_on_screen_and_by_hook(pane: Pane) -> None:
    pane.start()
    pane.prompt(" !ask")
    pane.wait_text("Enter to select · ↑/↓ to navigate · Esc to cancel")
    lines = pane.lines()
    assert " ☐ Color" in lines and "Which color should the button be?" in lines
    assert "❯ 1. Red" in lines and "  2. Blue" in lines and "  3. Type something." in lines
    pre = pane.wait_hook("PreToolUse")
    assert pre["tool_name"] == "AskUserQuestion"
    pane.press("2", lambda: "Enter to select" not in pane.text(), "the answer")
    stop = pane.wait_hook("Stop")
    assert stop["last_assistant_message"] == (
        'Your questions have been answered: "Which color should the button be?"="Blue". '
        "You can now continue with these answers in mind."
    )
    post = pane.hooks("PostToolUse")[0]
    assert post["tool_response"]["answers"] == {"Which color should the button be?": "Blue"}

    answer = {"Which?": "B"}
    updated = {**_ask_input("Which? | A | B"), "answers": answer}
    output = json.dumps(
        {
            "hookSpecificOutput": {
                "hookEventName": "PreToolUse",
                "permissionDecision": "allow",
                "updatedInput": updated,
            }
        }
    )
    hook = {"type": "command", "command": f"cat > /dev/null; echo {shlex.quote(output)}"}
    pane.write_settings({"PreToolUse": [{"matcher": "AskUserQuestion", "hooks": [hook]}]})
    pane.prompt("/exit")
    assert pane.exit_code() == 0
    pane.start()
    pane.prompt(" !ask Which? | A | B")
    stop = pane.wait_hook("Stop", 2)
    assert '"Which?"="B"' in stop["last_assistant_message"]


def test_skip_permissions_warns_first_then_runs_without_dialog(pane: Pane) -> None:
    pane.start("--dangerously-skip-permissions", env={"IS_SANDBOX": "1"}, wait_idle=False)
    pane.wait_text("WARNING: Claude Code running in Bypass Permissions mode")
    assert "  ❯ No, exit" in pane.lines() and "    Yes, I accept" in pane.lines()
    pane.press("Down", lambda: "  ❯ Yes, I accept" in pane.lines(), "Yes selected")
    pane.key("Enter")
    pane.wait_idle()
    pane.prompt(" !bash printf 'a\\nb'")
    assert pane.wait_hook("Stop")["last_assistant_message"] == "a\nb"
    assert pane.hooks("UserPromptSubmit")[0]["permission_mode"] == "bypassPermissions"


def test_crash_dies_mid_turn(pane: Pane) -> None:
    pane.start()
    pane.prompt(" !crash")
    assert pane.exit_code() == 3
    assert pane.hooks("UserPromptSubmit") and pane.hooks("Stop") == []


def test_ctrl_c_clears_the_box_and_twice_exits(pane: Pane) -> None:
    pane.start()
    pane.type("draft")
    pane.key("C-c")
    pane.wait_text("Press Ctrl-C again to exit")
    assert IDLE_LINE in pane.lines()
    pane.key("C-c")
    assert pane.exit_code() == 0
    assert pane.hooks("SessionEnd")[0]["reason"] == "other"


def test_long_answer_in_the_pane_and_resize(pane: Pane) -> None:
    pane.start()
    pane.prompt(" !long 3000")
    answer = pane.wait_hook("Stop")["last_assistant_message"]
    assert len(answer) == 3000 and "```python" in answer
    pane.wait_idle()
    pane.tmux.run("resize-window", "-t", "s1", "-x", "80", "-y", "20")
    wait_until(lambda: "─" * 80 in pane.lines(), what="redraw at 80 columns")
    assert pane.is_idle() and len(pane.lines()) == 20


def test_idle_notification(pane: Pane) -> None:
    pane.start(env={"STANDIN_CLAUDE_IDLE_NOTIFY_MS": "100"})
    pane.prompt("hi")
    note = pane.wait_hook("Notification")
    assert note["notification_type"] == "idle_prompt"
    assert pane.events()[-2:] == ["Stop", "Notification"]


# ---- realism knobs ------------------------------------------------------------------------


def test_drop_enter_swallows_an_immediate_enter_only(pane: Pane) -> None:
    pane.start(env={"STANDIN_CLAUDE_DROP_ENTER_MS": "250"})
    pane.tmux.run("send-keys", "-t", "s1", "-l", "racy", ";", "send-keys", "-t", "s1", "Enter")
    wait_until(lambda: pane.log("enter_dropped"), what="dropped Enter")
    sent = time.monotonic()
    assert IDLE_LINE + "racy" in pane.lines()
    wait_until(lambda: time.monotonic() - sent > 0.3, what="the race window to pass")
    pane.key("Enter")
    assert pane.wait_hook("UserPromptSubmit")["prompt"] == "racy"


def test_keys_before_ready_are_dropped(pane: Pane) -> None:
    pane.start(env={"STANDIN_CLAUDE_STARTUP_MS": "400"}, wait_idle=False)
    pane.wait_text("Claude Code (stand-in)")
    assert IDLE_LINE not in pane.lines()
    pane.key("-l", "too early")
    pane.key("Enter")
    pane.wait_idle()
    assert pane.hooks("UserPromptSubmit") == []
    assert "too early" not in pane.text()


def test_trust_and_api_key_dialogs(pane: Pane) -> None:
    env = {"STANDIN_CLAUDE_TRUST_DIALOG": "1", "STANDIN_CLAUDE_API_KEY_DIALOG": "1"}
    pane.start(env=env, wait_idle=False)
    pane.wait_text("Accessing workspace:")
    lines = pane.lines()
    assert "  ❯ No, exit" in lines and "    Yes, I trust this folder" in lines
    assert "  Enter to confirm · Esc to cancel" in lines
    assert pane.hooks("SessionStart") == []
    pane.key("1")  # number keys do nothing here
    pane.press("Down", lambda: "  ❯ Yes, I trust this folder" in pane.lines(), "Yes selected")
    pane.key("Enter")
    pane.wait_text("Detected a custom API key in your environment")
    assert "  ❯ No (recommended)" in pane.lines()
    pane.press("Up", lambda: "  ❯ Yes" in pane.lines(), "Yes selected")
    pane.key("Enter")
    pane.wait_idle()
    pane.wait_hook("SessionStart")
    pane.prompt("/exit")
    assert pane.exit_code() == 0

    pane.start(env={"STANDIN_CLAUDE_TRUST_DIALOG": "1"}, wait_idle=False)
    pane.wait_text("Accessing workspace:")
    pane.press("Enter", pane.rc_file.exists, "the exit")  # the default: No, exit
    assert pane.exit_code() == 1


def test_sigterm_ends_cleanly(pane: Pane) -> None:
    pane.start()
    pid = int(pane.tmux.run("display-message", "-p", "-t", "s1", "#{pane_pid}"))
    child = wait_until(lambda: _child_of(pid), what="stand-in process")
    assert child is not None
    os.kill(child, signal.SIGTERM)
    assert pane.exit_code() == 128 + signal.SIGTERM
    assert pane.wait_hook("SessionEnd")["reason"] == "other"


def _child_of(pid: int) -> int | None:
    """The python process under the pane's shell (env execs it)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                return int(entry)
    return None


# ---- pure parts ---------------------------------------------------------------------------


def test_long_answer_has_exact_length_and_a_whole_fence() -> None:
    for size in (10, 60, 500, 4321):
        text = long_answer(size)
        assert len(text) == size
        if size >= 60:
            assert text.count("```") == 2 and "\n```python\n" in text and "\n```\n" in text


def test_key_parser_boundaries() -> None:
    parser = KeyParser()
    assert parser.feed(b"ab\r\n\x7f", 0.0) == [
        Key("text", "ab"),
        Key("enter"),
        Key("newline"),
        Key("backspace"),
    ]
    assert parser.feed(b"\x1b[200~x\ry\x1b[20", 0.0) == []
    assert parser.feed(b"1~\x1b[A\xc3", 0.0) == [Key("paste", "x\ny"), Key("up")]
    assert parser.feed(b"\xa9\x1b", 0.0) == [Key("text", "é")]
    assert parser.esc_deadline == ESC_WAIT
    assert parser.flush(1.0) == [Key("escape")]
