"""Capture the real Claude Code CLI's screens (`capture-pane -p`, 200x50) as test fixtures.

Run by hand after changing tests/claude-code-version: `python -m tests.support.capture_real_screens`
writes tests/fixtures/real_screens/*.txt. With `--claude-code 2.1.332` (or `latest`, or
VAI_CLAUDE_CODE_VERSION) it captures that release into tests/fixtures/real_screens/<version>/;
`--out DIR` writes elsewhere. The screens feed the screen-reader unit tests (every version's
set); tests/fixtures/real_screens/README.md says what marks each one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.support.claude_versions import VERSION_VAR, pinned_version
from tests.support.fake_anthropic import FakeAnthropic, ToolCall
from tests.support.real_claude import (
    DEFAULT_API_KEY,
    NOT_FOUND_REASON,
    ClaudePane,
    box_text,
    find_real_claude,
    hook_settings,
    is_busy,
    real_claude_env,
    seed_claude_home,
    stop_all,
    write_claude_wrapper,
)
from tests.support.tmux import TmuxServer
from vai.worker.question_keys import answer_keys
from vai.worker.screen import read_screen

OUT = Path(__file__).resolve().parents[1] / "fixtures" / "real_screens"
MULTILINE = "Please look at this:\n```python\ndef f(x):\n    return x * 2\n```\nThanks"


class Capture:
    def __init__(self, out: Path, claude: Path, root: Path, tmux: TmuxServer) -> None:
        self.out = out
        self.claude = claude
        self.root = root
        self.tmux = tmux
        self.count = 0
        self.saved: list[str] = []

    def save(self, name: str, screen: str) -> None:
        (self.out / f"{name}.txt").write_text(screen)
        self.saved.append(name)
        print(f"  {name}.txt")

    def pane(
        self,
        fake: FakeAnthropic,
        args: str = "",
        home_name: str = "home",
        seed: dict[str, Any] | None = None,
        *,
        reseed: bool = True,
    ) -> ClaudePane:
        """A new CLI in a new pane; `seed` options go to seed_claude_home (unless `reseed`
        is False: keep that HOME as the last run left it)."""
        self.count += 1
        work = self.root / "work"
        work.mkdir(exist_ok=True)
        home = self.root / home_name
        if reseed:
            seed_claude_home(home, work, DEFAULT_API_KEY, **(seed or {}))
        log = self.root / f"hooks-{self.count}.jsonl"
        settings = self.root / f"settings-{self.count}.json"
        settings.write_text(json.dumps(hook_settings(log)))
        env = real_claude_env(home, self.root / "tmp", fake.base_url)
        wrapper = write_claude_wrapper(self.root / f"claude-{self.count}", env, self.claude)
        pane = ClaudePane(self.tmux, f"cap{self.count}", log)
        pane.start(f"{wrapper} --settings {settings} {args}".strip(), work)
        return pane


def wait(pane: ClaudePane, check: Callable[[str], object], what: str) -> str:
    return pane.wait_screen(check, 30, what)


def capture_all(cap: Capture) -> None:
    held = threading.Event()
    with FakeAnthropic() as fake:
        fake.on("slow", "slow answer", gate=held)
        fake.on("stream", "streaming answer " * 60, chunk_delay=0.15)
        fake.on(
            "run it",
            ToolCall("Bash", {"command": "echo hello > out.txt", "description": "Write a file"}),
        )

        # idle, pasted multi-line, typed multi-line, busy/streaming, queued, interrupted
        pane = cap.pane(fake)
        cap.save("idle", pane.wait_idle())
        pane.paste(MULTILINE)
        cap.save("pasted_multiline", pane.wait_echo(MULTILINE))
        pane.submit_enter()
        pane.wait_event("Stop")
        pane.wait_idle()
        pane.type_text(MULTILINE)
        cap.save("typed_multiline", pane.wait_echo(MULTILINE))
        pane.submit_enter()
        pane.wait_event("Stop", after=1)
        pane.wait_idle()
        pane.submit("stream")
        cap.save("busy", wait(pane, lambda s: is_busy(s) and "tokens)" in s, "the spinner"))
        pane.submit("queued message")
        cap.save("queued", wait(pane, lambda s: "Queued · " in s, "the queued prompt"))
        pane.press_until("Escape", lambda s: not is_busy(s), what="the interrupt")
        cap.save("interrupted", pane.wait_idle())
        pane.submit("slow")
        wait(pane, is_busy, "busy")
        pane.press_until("Escape", lambda s: not is_busy(s), what="the interrupt")
        cap.save(
            "interrupted_prompt_restored", wait(pane, lambda s: box_text(s) == "slow", "restore")
        )
        held.set()
        pane.press_until("C-u", lambda s: box_text(s) == "", what="the box to clear")
        pane.wait_idle()
        pane.paste("/exit")
        cap.save("slash_menu", wait(pane, lambda s: "Exit the CLI" in s, "the slash menu"))
        pane.submit_enter(confirm=pane.pane_dead)
        cap.save("after_exit", pane.screen())

        # permission dialog (default mode)
        pane = cap.pane(fake, home_name="home-default", seed={"default_mode": "default"})
        pane.wait_idle()
        pane.submit("run it")
        wait(pane, lambda s: "Do you want to proceed?" in s, "the permission dialog")
        cap.save("permission_bash", pane.wait_stable())

        # trust dialog, then api-key dialog
        pane = cap.pane(fake, home_name="home-fresh", seed={"trust": False, "approve_key": False})
        wait(pane, lambda s: "Accessing workspace:" in s, "the trust dialog")
        cap.save("trust_dialog", pane.wait_stable())
        pane.press_until("Down", lambda s: "❯ Yes, I trust this folder" in s)
        pane.keys("Enter")
        wait(pane, lambda s: "Detected a custom API key" in s, "the API key dialog")
        cap.save("api_key_dialog", pane.wait_stable())
        # resume screen (conversation shown above the prompt)
        session = str(uuid.uuid4())
        pane = cap.pane(fake, f"--session-id {session}")
        pane.wait_idle()
        pane.submit("remember kiwi")
        pane.wait_event("Stop")
        pane.wait_idle()
        pane.submit("/exit", confirm=pane.pane_dead)
        pane = cap.pane(fake, f"--resume {session}", reseed=False)
        cap.save("resumed_idle", pane.wait_idle())
        capture_worker_screens(cap, fake)
        capture_slash_screens(cap, fake)


QUESTION = {
    "question": "Which color should the button be?",
    "header": "Color",
    "options": [
        {"label": "Red", "description": "A warm color"},
        {"label": "Blue", "description": "A cool color"},
    ],
    "multiSelect": False,
}
SIZES = {
    "question": "Which sizes?",
    "header": "Size",
    "options": [{"label": "Small", "description": "s"}, {"label": "Large", "description": "l"}],
    "multiSelect": True,
}


def capture_worker_screens(cap: Capture, fake: FakeAnthropic) -> None:
    """Screens the worker classifies beyond the first set: questions, shell mode, a long
    input box, the bypass-permissions warning, a file-write permission, the rewind menu."""
    fake.on("ask one", ToolCall("AskUserQuestion", {"questions": [QUESTION]}))
    fake.on("ask two", ToolCall("AskUserQuestion", {"questions": [QUESTION, SIZES]}))
    fake.on(
        "write it",
        ToolCall("Write", {"file_path": str(cap.root / "work" / "new.txt"), "content": "hi\n"}),
    )
    pane = cap.pane(fake, home_name="home-default", seed={"default_mode": "default"})
    pane.wait_idle()
    pane.paste("!ls")
    cap.save("shell_mode", wait(pane, lambda s: "! for shell mode" in s, "shell mode"))
    pane.press_until("C-u", lambda s: "!\u00a0ls" not in s, what="the box to clear")
    pane.press_until("BSpace", lambda s: "! for shell mode" not in s, what="shell mode to end")
    pane.wait_idle()
    long_text = "".join(f"line {i:03d} of a long prompt\n" for i in range(60)) + "end"
    for start in range(0, len(long_text), 60):
        pane.paste(long_text[start : start + 60])
    cap.save("long_box_scrolled", wait(pane, lambda s: "more ─" in s, "the scrolled box"))
    pane.press_until("C-c", lambda s: box_text(s) == "", what="the box to clear")
    pane.wait_idle()
    pane.submit("ask one")
    wait(pane, lambda s: "Enter to select" in s, "the question")
    cap.save("question_single", pane.wait_stable())
    pane.press_until("2", lambda s: "Enter to select" not in s, what="the answer")
    pane.wait_event("Stop")
    pane.wait_idle()
    pane.submit("ask two")
    wait(pane, lambda s: "Enter to select" in s, "the first question")
    cap.save("question_tabs", pane.wait_stable())
    pane.press_until("1", lambda s: "Which sizes?" in s, what="the second question")
    cap.save("question_multiselect", pane.wait_stable())
    pane.press_until("Escape", lambda s: "Enter to select" not in s, what="the cancel")
    pane.wait_idle()
    pane.submit("write it")
    wait(pane, lambda s: "Do you want to create" in s, "the write permission")
    cap.save("permission_write", pane.wait_stable())
    pane.press_until("Escape", lambda s: "Do you want to create" not in s, what="the cancel")
    pane.wait_idle()
    pane.wait_stable()
    pane.keys("Escape")
    pane.keys("Escape")
    cap.save("rewind_menu", wait(pane, lambda s: "Rewind" in s, "the rewind menu"))
    pane.press_until("Escape", lambda s: "Rewind" not in s, what="the rewind menu to close")
    pane.wait_idle()

    fake.on("ask sizes", ToolCall("AskUserQuestion", {"questions": [SIZES]}))
    pane.submit("ask sizes")
    wait(pane, lambda s: "Which sizes?" in s and "Enter to select" in s, "the question")
    screen = read_screen(pane.wait_stable())
    keys = answer_keys(screen, ["Small", "Large"], "")
    assert keys is not None and keys[-1] == ("key", "Enter"), (keys, screen)  # Enter confirms
    for _, key in keys[:-1]:
        pane.keys(key)
    wait(pane, lambda s: "Review your answers" in s and "Small, Large" in s, "the review")
    cap.save("question_multiselect_review", pane.wait_stable())
    pane.press_until("Enter", lambda s: "Review your answers" not in s, what="the submit")
    pane.wait_event("Stop", where=lambda e: "Small, Large" in json.dumps(e))
    pane.wait_idle()

    pane = cap.pane(fake, "--dangerously-skip-permissions", home_name="home-bypass")
    wait(pane, lambda s: "Bypass Permissions mode" in s, "the bypass warning")
    cap.save("bypass_dialog", pane.wait_stable())


def capture_slash_screens(cap: Capture, fake: FakeAnthropic) -> None:
    """Claude Code's own slash commands: an unknown one, /clear, /compact, the /cost panel."""
    pane = cap.pane(fake)
    pane.wait_idle()
    pane.submit("hello")
    pane.wait_event("Stop")
    pane.wait_idle()
    pane.paste("/frobnicate")
    pane.wait_echo("/frobnicate")
    unknown = "Unknown command: /frobnicate"
    pane.submit_enter(confirm=lambda: unknown in pane.screen())
    cap.save("slash_unknown", pane.wait_idle())
    pane.paste("/clear")
    pane.wait_echo("/clear")
    pane.submit_enter(confirm=lambda: len(pane.events("SessionStart")) >= 2)
    cap.save("slash_clear", pane.wait_idle())
    pane.paste("/compact")
    pane.wait_echo("/compact")
    pane.submit_enter(confirm=lambda: "Not enough messages to compact" in pane.screen())
    cap.save("slash_compact", pane.wait_idle())
    pane.paste("/cost")
    pane.wait_echo("/cost")
    pane.submit_enter(confirm=lambda: "Esc to close" in pane.screen())
    cap.save("slash_cost_panel", pane.wait_stable())
    pane.press_until("Escape", lambda s: "Esc to close" not in s, what="the panel to close")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--claude-code", metavar="VERSION", help="capture this CLI release")
    args = parser.parse_args()
    if args.claude_code:
        os.environ[VERSION_VAR] = args.claude_code
    claude = find_real_claude()
    if claude is None:
        raise SystemExit(NOT_FOUND_REASON)
    version = subprocess.run(
        [str(claude), "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[0]
    out = args.out or (OUT if version == pinned_version() else OUT / version)
    print(f"capturing screens of {claude} ({version}) into {out}")
    out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="vai-screens-", dir="/tmp"))
    tmux = TmuxServer(f"vai-screens-{uuid.uuid4().hex[:8]}")
    started = time.monotonic()
    try:
        capture_all(Capture(out, claude, root, tmux))
    finally:
        stop_all(tmux, root)
        shutil.rmtree(root, ignore_errors=True)
    print(f"done in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
