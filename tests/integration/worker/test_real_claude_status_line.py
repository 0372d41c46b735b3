"""The bridge's statusLine command with the REAL Claude Code CLI (offline, against
tests.support.fake_anthropic): the hook client in its status mode (no worker listening
here: it prints the operator's own line all the same) shows the operator's status line
under the input box, and the screen reader (worker/screen.py) still reads idle, busy and
a permission dialog with that line on screen. The screens are saved to
tests/fixtures/status_line_screens/ for the unit tests when VAI_SAVE_SCREENS is set."""

from __future__ import annotations

import json
import os
import shlex
import sys
import threading
from pathlib import Path

import pytest

from tests.support.fake_anthropic import FakeAnthropic, ToolCall
from tests.support.real_claude import (
    DEFAULT_API_KEY,
    NOT_FOUND_REASON,
    ClaudePane,
    find_real_claude,
    hook_settings,
    is_busy,
    real_claude_env,
    seed_claude_home,
    stop_all,
    write_claude_wrapper,
)
from tests.support.tmux import TmuxServer
from vai.protocol.layout import Layout
from vai.worker.screen import read_screen

CLAUDE = find_real_claude()
pytestmark = [
    pytest.mark.realclaude,
    pytest.mark.skipif(CLAUDE is None, reason=NOT_FOUND_REASON),
    pytest.mark.timeout(120),
]
OPERATOR_LINE = "operator-line: all good"
SCREENS = Path(__file__).resolve().parents[2] / "fixtures" / "status_line_screens"


def test_the_operators_status_line_shows_and_the_screen_still_reads(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    work, home = short_tmp / "work", short_tmp / "home"
    work.mkdir()
    theirs = {"statusLine": {"type": "command", "command": f"echo '{OPERATOR_LINE}'"}}
    seed_claude_home(home, work, DEFAULT_API_KEY, default_mode="default", extra_settings=theirs)
    layout = Layout(str(short_tmp / "vai"))
    folder = layout.session_run_dir(1)
    folder.mkdir(parents=True)  # no worker: the reading is lost, their line still shows
    ours = hook_settings(short_tmp / "hooks.jsonl", ("UserPromptSubmit", "Stop"))
    client = [sys.executable, "-I", "-S", str(layout.hook_client(1)), str(folder), "status"]
    ours["statusLine"] = {"type": "command", "command": shlex.join(client)}
    settings = short_tmp / "settings.json"
    settings.write_text(json.dumps(ours))
    layout.hook_client(1).parent.mkdir(parents=True, exist_ok=True)
    source = Path(__file__).resolve().parents[3] / "worker" / "hook_client.py"
    layout.hook_client(1).write_bytes(source.read_bytes())
    held = threading.Event()
    saved: dict[str, str] = {}
    with FakeAnthropic() as fake:
        fake.on("slow", "slow answer", gate=held)
        write = {"command": "echo hello > out.txt", "description": "Write a file"}
        fake.on("run it", ToolCall("Bash", write))
        env = real_claude_env(home, short_tmp / "tmp", fake.base_url)
        claude = write_claude_wrapper(short_tmp / "claude", env, CLAUDE)
        pane = ClaudePane(tmux_server, "claude", short_tmp / "hooks.jsonl")
        pane.start(f"{claude} --settings {settings}", work)
        try:
            screen = pane.wait_screen(lambda s: OPERATOR_LINE in s, 30, "the operator's line")
            assert read_screen(screen).state == "idle"
            saved["idle"] = screen
            pane.submit("slow")
            screen = pane.wait_screen(lambda s: is_busy(s) and OPERATOR_LINE in s, 30, "busy")
            assert read_screen(screen).state == "busy"
            saved["busy"] = screen
            held.set()
            pane.wait_event("Stop")
            pane.submit("run it")
            screen = pane.wait_screen(
                lambda s: read_screen(s).state == "permission", 30, "the permission dialog"
            )
            saved["permission_bash"] = screen
        finally:
            held.set()
            stop_all(tmux_server, short_tmp)
    if os.environ.get("VAI_SAVE_SCREENS"):
        SCREENS.mkdir(exist_ok=True)
        for name, text in saved.items():
            (SCREENS / f"{name}.txt").write_text(text)
