"""The REAL Claude Code CLI in a tmux pane, offline against tests.support.fake_anthropic.

These tests pin what the bridge relies on (screens, hooks, typing recipes) for the version in
tests/claude-code-version. They skip when the binary is not installed (see
tests/support/real_claude.py).
Every wait polls the pane or the hook log against a deadline; nothing sleeps "long enough".
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.claude_versions import installed_version, pinned_version, requested_selection
from tests.support.fake_anthropic import FakeAnthropic, ToolCall
from tests.support.harness import wait_until
from tests.support.real_claude import (
    DEFAULT_API_KEY,
    IDLE_PROMPT,
    NOT_FOUND_REASON,
    RULE,
    ClaudePane,
    box_text,
    find_real_claude,
    hook_settings,
    is_busy,
    is_idle,
    real_claude_env,
    seed_claude_home,
    stop_all,
    write_claude_wrapper,
)
from tests.support.tmux import TmuxServer
from vai.worker.question_keys import answer_keys
from vai.worker.screen import read_screen

CLAUDE = find_real_claude()
pytestmark = [
    pytest.mark.realclaude,
    pytest.mark.skipif(CLAUDE is None, reason=NOT_FOUND_REASON),
]

PERMISSION_QUESTION = "Do you want to proceed?"
INTERRUPTED = "Interrupted · What should Claude do instead?"


@dataclass
class Rig:
    """One fake API, one tmux server, and per-test CLI homes; `start()` opens a pane."""

    tmux: TmuxServer
    fake: FakeAnthropic
    root: Path
    work_dir: Path = field(init=False)
    home: Path = field(init=False)
    hook_log: Path = field(init=False)
    settings: Path = field(init=False)
    claude: Path = field(init=False)

    def __post_init__(self) -> None:
        self.work_dir = self.root / "work"
        self.work_dir.mkdir()
        self.home = self.root / "home"
        self.hook_log = self.root / "hooks.jsonl"
        self.settings = self.root / "settings.json"
        self.settings.write_text(json.dumps(hook_settings(self.hook_log)))
        env = real_claude_env(self.home, self.root / "tmp", self.fake.base_url)
        self.claude = write_claude_wrapper(self.root / "claude", env, CLAUDE)

    def seed(self, **options: Any) -> None:
        seed_claude_home(self.home, self.work_dir, DEFAULT_API_KEY, **options)

    def start(self, args: str = "", name: str = "claude") -> ClaudePane:
        pane = ClaudePane(self.tmux, name, self.hook_log)
        pane.start(f"{self.claude} --settings {self.settings} {args}".strip(), self.work_dir)
        return pane


@pytest.fixture
def rig(short_tmp: Path, tmux_server: TmuxServer) -> Iterator[Rig]:
    with FakeAnthropic() as fake:
        try:
            yield Rig(tmux_server, fake, short_tmp)
        finally:
            stop_all(tmux_server, short_tmp)  # before short_tmp is removed


def names(pane: ClaudePane) -> list[str]:
    return [e["hook_event_name"] for e in pane.events()]


def test_the_cli_is_the_version_asked_for() -> None:
    """What these tests pin holds for the pinned CLI, or for the release asked for with
    --claude-code / VAI_CLAUDE_CODE_VERSION: never for whatever binary happened to be found."""
    assert CLAUDE is not None
    selection = requested_selection()
    assert installed_version(CLAUDE) == (selection.version if selection else pinned_version())


def test_reaches_idle_screen(rig: Rig) -> None:
    rig.seed()
    started = time.monotonic()
    pane = rig.start()
    screen = pane.wait_idle()
    elapsed = time.monotonic() - started
    lines = screen.splitlines()
    at = lines.index(IDLE_PROMPT)
    assert lines[at - 1].startswith(RULE)
    assert lines[at + 1].startswith(RULE)
    assert "esc to interrupt" not in screen
    assert "Claude Code v" in screen
    start = pane.wait_event("SessionStart", 15)
    assert start["source"] == "startup"
    assert start["cwd"] == str(rig.work_dir)
    assert elapsed < 30


def test_prompt_fires_user_prompt_submit_then_stop(rig: Rig) -> None:
    rig.seed()
    pane = rig.start()
    pane.wait_idle()
    submitted = pane.submit("hello there")
    assert submitted is not None
    assert submitted["prompt"] == "hello there"
    stop = pane.wait_event("Stop")
    assert stop["last_assistant_message"] == "echo: hello there"
    assert stop["prompt_id"] == submitted["prompt_id"]
    assert stop["session_id"] == submitted["session_id"]
    order = names(pane)
    assert order.index("UserPromptSubmit") < order.index("Stop")
    assert rig.fake.user_texts() == ["hello there"]
    # With nonessential traffic disabled the CLI calls nothing but POST /v1/messages?beta=true.
    assert not rig.fake.unknown_paths
    assert {(r.method, r.path, r.query.get("beta")) for r in rig.fake.requests} == {
        ("POST", "/v1/messages", "true")
    }
    screen = pane.wait_idle()
    assert "● echo: hello there" in screen

    # A slash command fires no UserPromptSubmit; /clear ends the session and starts a new one.
    pane.submit("/clear", confirm=lambda: pane.events("SessionStart")[1:])
    cleared = pane.wait_event("SessionStart", after=1)
    assert cleared["source"] == "clear"
    assert cleared["session_id"] != submitted["session_id"]
    assert pane.wait_event("SessionEnd")["reason"] == "clear"
    assert len(pane.events("UserPromptSubmit")) == 1


CODE_PROMPT = "```python\nprint('hi')  # fix this <- \"quoted\" & $HOME\n```"
LONG_CODE_PROMPT = (
    "Please review this function:\n\n"
    "```python\n"
    "def add(a: int, b: int) -> int:\n"
    '    """Add two numbers."""\n'
    "    return a + b  # $PATH `tick` 'quote'\n"
    "```\n"
    "\n"
    "Thanks!"
)


def test_multiline_prompt_arrives_exactly(rig: Rig) -> None:
    rig.seed()
    pane = rig.start()
    pane.wait_idle()

    # Up to 3 lines and 800 characters: a bracketed paste shows inline and arrives exactly.
    submitted = pane.submit(CODE_PROMPT)
    assert submitted is not None
    assert submitted["prompt"] == CODE_PROMPT
    assert pane.wait_event("Stop")["last_assistant_message"] == f"echo: {CODE_PROMPT}"
    pane.wait_idle()

    # Longer: typed in pieces (LF inserts a newline in the box) it arrives exactly.
    submitted = pane.submit(LONG_CODE_PROMPT, how="type")
    assert submitted is not None
    assert submitted["prompt"] == LONG_CODE_PROMPT
    pane.wait_event("Stop", after=1)
    pane.wait_idle()

    # Longer, pasted: shown as `[Pasted text #N +K lines]` and wrapped in <pasted_content>.
    pane.paste(LONG_CODE_PROMPT)
    screen = pane.wait_echo(LONG_CODE_PROMPT)
    lines = LONG_CODE_PROMPT.count("\n")
    assert box_text(screen) == f"[Pasted text #1 +{lines} lines]"
    assert "paste again to expand" in screen
    submitted = pane.submit_enter()
    prompt = submitted["prompt"]
    assert prompt.startswith('\n\n<pasted_content id="')
    tag = prompt.split('"')[1]
    wrapped = f'<pasted_content id="{tag}">\n{LONG_CODE_PROMPT}\n</pasted_content id="{tag}">'
    expected = f"\n\n{wrapped}\n"
    assert prompt == expected
    assert pane.wait_event("Stop", after=2)["last_assistant_message"] == f"echo: {wrapped}"
    assert rig.fake.user_texts()[-1] == wrapped


def test_bash_tool_call_with_permission_dialog(rig: Rig) -> None:
    rig.seed(default_mode="default")
    marker = rig.root / "touched"
    command = f"echo tool-output-42 && touch {marker}"
    rig.fake.on(
        "run the tool", ToolCall("Bash", {"command": command, "description": "Touch a marker"})
    )
    pane = rig.start()
    pane.wait_idle()
    pane.submit("run the tool")
    pre = pane.wait_event("PreToolUse")
    assert pre["tool_name"] == "Bash"
    assert pre["tool_input"]["command"] == command
    assert pre["permission_mode"] == "default"

    dialog = pane.wait_screen(lambda s: PERMISSION_QUESTION in s, 15, "the permission dialog")
    for text in ("Bash command", command, "❯ 1. Yes", "3. No", "Esc to cancel"):
        assert text in dialog, text
    assert not is_idle(dialog)
    assert not marker.exists()

    # Left unanswered, the dialog raises a Notification a few seconds later.
    shown = time.monotonic()
    notification = pane.wait_event("Notification", 30)
    waited = time.monotonic() - shown
    assert notification["notification_type"] == "permission_prompt"
    assert notification["message"] == "Claude needs your permission"
    assert waited > 2, waited

    pane.press_until("Enter", lambda s: PERMISSION_QUESTION not in s, what="the dialog to close")
    post = pane.wait_event("PostToolUse")
    assert post["tool_name"] == "Bash"
    assert post["tool_use_id"] == pre["tool_use_id"]
    assert post["tool_response"]["stdout"] == "tool-output-42"
    assert marker.exists()
    stop = pane.wait_event("Stop")
    assert stop["last_assistant_message"] == "tool said: tool-output-42"
    results = [r for r in rig.fake.message_requests if r.user_text is None]
    assert len(results) == 1
    assert "tool-output-42" in json.dumps(results[0].body)
    assert "● tool said: tool-output-42" in pane.wait_idle()


def test_denied_permission_ends_turn_without_stop(rig: Rig) -> None:
    rig.seed(default_mode="default")
    marker = rig.root / "never"
    rig.fake.on("deny it", ToolCall("Bash", {"command": f"touch {marker}"}))
    pane = rig.start()
    pane.wait_idle()
    pane.submit("deny it")
    pane.wait_screen(lambda s: PERMISSION_QUESTION in s, 15, "the permission dialog")
    screen = pane.press_until("3", lambda s: PERMISSION_QUESTION not in s, what="No")
    screen = pane.wait_idle()
    assert INTERRUPTED in screen
    assert not marker.exists()
    # No Stop for the denied turn: the next Stop belongs to the next prompt.
    pane.submit("next")
    stop = pane.wait_event("Stop")
    assert stop["last_assistant_message"] == "echo: next"
    assert "PostToolUse" not in names(pane)


def test_escape_interrupts_busy_turn(rig: Rig) -> None:
    rig.seed()
    held = threading.Event()
    rig.fake.on("held", "never shown", gate=held)
    rig.fake.on("stream", "streaming answer " * 40, chunk_delay=0.15)
    pane = rig.start()
    pane.wait_idle()

    # Escape before any answer text: the prompt goes back into the input box.
    pane.submit("held")
    busy = pane.wait_screen(is_busy, 15, "the busy screen")
    assert "esc to interrupt" in busy
    screen = pane.press_until("Escape", lambda s: not is_busy(s), what="the interrupt")
    screen = pane.wait_screen(lambda s: box_text(s) == "held", 10, "the prompt back in the box")
    pane.press_until("C-u", lambda s: box_text(s) == "", what="the box to clear")
    pane.wait_idle()

    # Escape while text streams: the partial answer stays, marked as interrupted.
    pane.submit("stream")
    pane.wait_screen(lambda s: "streaming answer streaming" in s and is_busy(s), 15, "streaming")
    pane.press_until("Escape", lambda s: not is_busy(s), what="the interrupt")
    screen = pane.wait_idle()
    assert INTERRUPTED in screen

    # No Stop fired for either interrupted turn: the first Stop is the next prompt's.
    submitted = pane.submit("after")
    assert submitted is not None
    stop = pane.wait_event("Stop")
    assert stop["last_assistant_message"] == "echo: after"
    assert stop["prompt_id"] == submitted["prompt_id"]
    assert len(pane.events("Stop")) == 1
    assert [e["prompt"] for e in pane.events("UserPromptSubmit")] == ["held", "stream", "after"]


def test_prompt_sent_while_busy_is_queued(rig: Rig) -> None:
    rig.seed()
    held = threading.Event()
    rig.fake.on("first", "first answer", gate=held)
    pane = rig.start()
    pane.wait_idle()
    pane.submit("first")
    pane.wait_screen(is_busy, 15, "the busy screen")
    queued = pane.submit("second")
    assert queued is not None
    assert queued["prompt"] == "second"  # UserPromptSubmit fires when queued, still busy
    screen = pane.wait_screen(lambda s: "Queued · ctrl+x ctrl+s to send now" in s, 10, "queued")
    assert is_busy(screen)
    assert not pane.events("Stop")
    held.set()
    stops = wait_until(lambda: pane.events("Stop")[1:] and pane.events("Stop"), 30, "two Stops")
    assert [s["last_assistant_message"] for s in stops] == ["first answer", "echo: second"]
    assert rig.fake.user_texts() == ["first", "second"]


def test_exit_then_resume_continues_conversation(rig: Rig) -> None:
    rig.seed()
    session_id = str(uuid.uuid4())
    pane = rig.start(f"--session-id {session_id}")
    pane.wait_idle()
    assert pane.wait_event("SessionStart")["session_id"] == session_id
    pane.submit("remember kiwi")
    pane.wait_event("Stop")
    pane.wait_idle()
    pane.submit("/exit", confirm=pane.pane_dead)
    end = pane.wait_event("SessionEnd")
    assert end["reason"] == "prompt_input_exit"
    screen = pane.screen()
    assert "Resume this session with:" in screen
    assert f"--resume {session_id}" in screen
    transcript = Path(end["transcript_path"])
    assert transcript.name == f"{session_id}.jsonl"
    assert transcript.exists()

    resumed = rig.start(f"--resume {session_id}", name="resumed")
    screen = resumed.wait_idle()
    assert "remember kiwi" in screen
    start = resumed.wait_event("SessionStart", where=lambda e: e["source"] == "resume")
    assert start["session_id"] == session_id
    resumed.submit("what fruit?")
    stop = resumed.wait_event("Stop", after=1)
    assert stop["last_assistant_message"] == "echo: what fruit?"
    assert stop["session_id"] == session_id
    body = rig.fake.message_requests[-1].body
    assert body is not None
    history = json.dumps(body["messages"])
    assert "remember kiwi" in history
    assert "echo: remember kiwi" in history

    # Reusing --session-id for an existing conversation fails at once (the message is gone
    # from the pane by the time it is dead, so read it from the process's output).
    clash = subprocess.run(
        [str(rig.claude), "--settings", str(rig.settings), "--session-id", session_id],
        cwd=rig.work_dir,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert clash.returncode == 1
    assert f"Session ID {session_id} is already in use" in clash.stdout + clash.stderr


def test_trust_and_api_key_dialogs(rig: Rig) -> None:
    rig.seed(trust=False, approve_key=False)
    pane = rig.start()
    trust = pane.wait_screen(lambda s: "Accessing workspace:" in s, 20, "the trust dialog")
    for text in (
        str(rig.work_dir),
        "Is this a project you created or one you trust?",
        "❯ No, exit",
        "Yes, I trust this folder",
        "Enter to confirm · Esc to cancel",
    ):
        assert text in trust, text
    assert not pane.events()  # no SessionStart before the folder is trusted
    # The dialog re-renders once just after it appears and resets its selection: let it settle.
    pane.wait_stable()
    pane.press_until("Down", lambda s: "❯ Yes, I trust this folder" in s, what="Yes selected")
    pane.keys("Enter")
    pane.wait_screen(lambda s: "Detected a custom API key" in s, 30, "the API key dialog")
    key = pane.wait_stable()
    for text in (
        "Detected a custom API key in your environment",
        f"ANTHROPIC_API_KEY: sk-ant-...{DEFAULT_API_KEY[-20:]}",
        "Do you want to use this API key?",
        "❯ No (recommended)",
    ):
        assert text in key, text
    pane.press_until("Up", lambda s: "❯ Yes" in s, what="Yes selected")
    pane.keys("Enter")
    pane.wait_idle()
    assert pane.wait_event("SessionStart")["source"] == "startup"
    state = json.loads((rig.home / ".claude.json").read_text())
    assert DEFAULT_API_KEY[-20:] in state["customApiKeyResponses"]["approved"]
    assert state["projects"][str(rig.work_dir)]["hasTrustDialogAccepted"] is True


def test_trust_dialog_default_answer_exits(rig: Rig) -> None:
    rig.seed(trust=False)
    pane = rig.start()
    pane.wait_screen(lambda s: "Accessing workspace:" in s, 20, "the trust dialog")
    pane.wait_stable()
    screen = pane.press_until("Enter", lambda _: pane.pane_dead(), what="the CLI to exit")
    assert "Claude Code didn't start because this folder isn't trusted." in screen
    assert not pane.events()


# -- facts the worker relies on (worker/prompt_input.py, worker/main.py) ------------------------


def test_bang_switches_to_shell_mode_unless_a_space_comes_first(rig: Rig) -> None:
    rig.seed()
    pane = rig.start()
    pane.wait_idle()
    pane.paste("!echo hi")
    screen = pane.wait_screen(lambda s: "! for shell mode" in s, 10, "shell mode")
    assert "!\u00a0echo hi" in screen.splitlines()
    pane.press_until("C-u", lambda s: "!\u00a0echo hi" not in s, what="the box to clear")
    pane.press_until("BSpace", lambda s: "! for shell mode" not in s, what="prompt mode")
    pane.wait_idle()
    submitted = pane.submit(" !echo hi  ")
    assert submitted is not None and submitted["prompt"] == " !echo hi"  # trailing trimmed
    assert pane.wait_event("Stop")["last_assistant_message"] == "echo: !echo hi"
    assert rig.fake.user_texts() == ["!echo hi"]


def test_small_pastes_in_a_row_stay_verbatim(rig: Rig) -> None:
    rig.seed()
    pane = rig.start()
    pane.wait_idle()
    text = "".join(f"line {i:02d}\twith a tab `code` $HOME\n" for i in range(30)) + "end"
    pieces = [text[i : i + 60] for i in range(0, len(text), 60)]
    assert all(p.count("\n") <= 2 for p in pieces)
    for piece in pieces:
        before = pane.screen()
        pane.paste(piece)
        pane.wait_screen(before.__ne__, 5, "the piece echoed")  # each piece read on its own
    pane.wait_screen(lambda s: s.rstrip().endswith("end") or "  end" in s, 10, "the end")
    assert "[Pasted text" not in pane.screen()
    submitted = pane.submit_enter()
    assert submitted["prompt"] == text.replace("\t", "    ")  # pasted tabs become 4 spaces
    pane.wait_event("Stop")
    assert rig.fake.user_texts() == [text.replace("\t", "    ")]


def _hook(rig: Rig, name: str, event: str, output: dict[str, Any], matcher: str = "") -> None:
    script = rig.root / name
    script.write_text(f"#!/bin/sh\ncat > /dev/null\nprintf '%s' '{json.dumps(output)}'\n")
    script.chmod(0o755)
    settings = json.loads(rig.settings.read_text())
    entry: dict[str, Any] = {"hooks": [{"type": "command", "command": str(script)}]}
    if matcher:
        entry["matcher"] = matcher
    settings["hooks"][event] = [*settings["hooks"].get(event, []), entry]
    rig.settings.write_text(json.dumps(settings))


def test_permission_request_hook_answers_the_dialog(rig: Rig) -> None:
    rig.seed(default_mode="default")
    allowed, denied = rig.root / "allowed", rig.root / "denied"
    rig.fake.on("allow it", ToolCall("Bash", {"command": f"touch {allowed}"}))
    rig.fake.on("deny it", ToolCall("Bash", {"command": f"touch {denied}"}))
    decision = {"hookEventName": "PermissionRequest"}
    _hook(rig, "allow.sh", "PermissionRequest", {"hookSpecificOutput": {**decision, "decision": {
        "behavior": "allow"}}}, matcher="Bash")  # fmt: skip
    pane = rig.start()
    pane.wait_idle()
    pane.submit("allow it")
    pane.wait_event("PostToolUse")
    assert allowed.exists()
    pane.wait_event("Stop")
    pane.wait_idle()

    rig.settings.write_text(json.dumps(hook_settings(rig.hook_log)))
    _hook(rig, "deny.sh", "PermissionRequest", {"hookSpecificOutput": {**decision, "decision": {
        "behavior": "deny", "message": "not from Discord"}}}, matcher="Bash")  # fmt: skip
    pane = rig.start(name="denied")
    pane.wait_idle()
    pane.submit("deny it")
    # Denied by the hook, the model is told why and the turn goes on to a Stop.
    stop = pane.wait_event("Stop", where=lambda e: "not from Discord" in str(e))
    assert stop["last_assistant_message"] == "tool said: not from Discord"
    assert not denied.exists()


def test_pre_tool_use_answers_a_question(rig: Rig) -> None:
    rig.seed()
    question = {
        "question": "Which color?",
        "header": "Color",
        "options": [{"label": "Red", "description": ""}, {"label": "Blue", "description": ""}],
        "multiSelect": False,
    }
    tool_input = {"questions": [question]}
    rig.fake.on("ask", ToolCall("AskUserQuestion", tool_input), after_tool=lambda r: r)
    output = {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "allow",
            "updatedInput": {**tool_input, "answers": {"Which color?": "Blue"}},
        }
    }
    _hook(rig, "answer.sh", "PreToolUse", output, matcher="AskUserQuestion")
    pane = rig.start()
    pane.wait_idle()
    pane.submit("ask")
    stop = pane.wait_event("Stop")
    assert '"Which color?"="Blue"' in stop["last_assistant_message"]
    assert "Enter to select" not in pane.screen()


SIZES = {
    "question": "Which sizes?",
    "header": "Size",
    "options": [{"label": label, "description": label[0].lower()} for label in (
        "Small", "Medium", "Large")],
    "multiSelect": True,
}  # fmt: skip
COLOR = {
    "question": "Which color?",
    "header": "Color",
    "options": [{"label": "Red", "description": ""}, {"label": "Blue", "description": ""}],
    "multiSelect": False,
}


def test_pre_tool_use_answers_several_options_and_free_text(rig: Rig) -> None:
    """The bridge's answers (worker/tool_hooks.py answer_text): a multi-select answer is the
    labels joined by ", ", free text is the answer itself; the CLI takes both as given."""
    rig.seed()
    tool_input = {"questions": [SIZES, COLOR]}
    rig.fake.on("ask", ToolCall("AskUserQuestion", tool_input), after_tool=lambda r: r)
    answers = {"Which sizes?": "Small, Large", "Which color?": "purple haze"}
    output = {
        "hookSpecificOutput": {
            "hookEventName": "PreToolUse",
            "permissionDecision": "allow",
            "updatedInput": {**tool_input, "answers": answers},
        }
    }
    _hook(rig, "answer.sh", "PreToolUse", output, matcher="AskUserQuestion")
    pane = rig.start()
    pane.wait_idle()
    pane.submit("ask")
    stop = pane.wait_event("Stop")
    said = stop["last_assistant_message"]
    assert '"Which sizes?"="Small, Large"' in said and '"Which color?"="purple haze"' in said
    post = pane.wait_event("PostToolUse")
    assert post["tool_response"]["answers"] == answers


def _answer_with_keys(pane: ClaudePane, question: str, picked: list[str], text: str) -> None:
    """Answer the question screen as worker/attention.py does, with question_keys' plan."""
    screen = pane.wait_screen(lambda s: question in s and "Enter to select" in s, 20, question)
    steps = answer_keys(read_screen(pane.wait_stable()), picked, text)
    assert steps is not None, screen
    for kind, value in steps:
        if kind == "paste":
            pane.paste(value)
        else:
            pane.keys(value)
        pane.wait_stable(quiet=0.25)


def test_question_screens_answered_with_keys(rig: Rig) -> None:
    """No hook answers: ticks, typed text and Submit in the pane give the same answers."""
    rig.seed()
    rig.fake.on("sizes", ToolCall("AskUserQuestion", {"questions": [SIZES]}), after_tool=str)
    rig.fake.on("color", ToolCall("AskUserQuestion", {"questions": [COLOR]}), after_tool=str)
    pane = rig.start()
    pane.wait_idle()

    pane.submit("sizes")
    _answer_with_keys(pane, "Which sizes?", ["Small", "Large"], "")
    post = pane.wait_event("PostToolUse")
    assert post["tool_response"]["answers"] == {"Which sizes?": "Small, Large"}
    pane.wait_event("Stop")
    pane.wait_idle()

    pane.submit("sizes")
    _answer_with_keys(pane, "Which sizes?", ["Medium"], "tiny one")
    posts = pane.wait_event("PostToolUse", where=lambda e: "tiny one" in str(e))
    assert posts["tool_response"]["answers"] == {"Which sizes?": "Medium, tiny one"}
    pane.wait_event("Stop", where=lambda e: "tiny one" in str(e))
    pane.wait_idle()

    pane.submit("color")
    _answer_with_keys(pane, "Which color?", [], "purple haze")
    posts = pane.wait_event("PostToolUse", where=lambda e: "purple haze" in str(e))
    assert posts["tool_response"]["answers"] == {"Which color?": "purple haze"}
