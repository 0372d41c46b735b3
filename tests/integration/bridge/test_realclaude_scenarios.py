"""The whole bridge (vai run, local Discord) with the REAL Claude Code CLI in its panes, against
the fake Anthropic API, and the same scenarios with the stand-in, so the two cannot drift apart.

Each scenario runs once per backend (`standin`, `real`); a backend says how to make Claude do
something (run a Bash command, wait, ask a question) and what it remembers. The real runs are
marked `realclaude` and skip when the CLI is not installed (tests/support/real_claude.py).
"""

from __future__ import annotations

import json
import os
import signal
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.fake_anthropic import FakeAnthropic, ToolCall
from tests.support.harness import standin_command, wait_until
from tests.support.real_claude import (
    DEFAULT_API_KEY,
    NOT_FOUND_REASON,
    find_real_claude,
    real_claude_env,
    seed_claude_home,
    stop_all,
    write_claude_wrapper,
)
from tests.support.stack import Stack, running_stack
from tests.support.tmux import TmuxServer
from vai.gateway.choice_book import TEXT_INPUT_ID

CLAUDE = find_real_claude()
QUESTION = "Which color should the button be?"
SIZES = "Which sizes?"
INTERRUPTED = "Interrupted: Claude stopped this turn."


class Backend:
    """How to make Claude do things, and how to check what it saw."""

    name = ""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.claude_home = root / "claude-home"  # the stack's HOME for the pane
        self.work_dir = root / "work"  # the stack's Claude working directory

    def command(self) -> list[str]:
        raise NotImplementedError

    def seed(self, default_mode: str, dialogs: bool) -> dict[str, str]:
        """Seed Claude's HOME; with `dialogs`, the folder is not trusted and the API key
        not approved, so both start-up dialogs show. Returns extra pane environment."""
        bypass = default_mode == "bypassPermissions"
        seed_claude_home(
            self.claude_home,
            self.work_dir,
            DEFAULT_API_KEY,
            default_mode=default_mode,
            skip_dangerous_prompt=bypass,
            trust=not dialogs,
            approve_key=not dialogs,
        )
        return {}

    def bash(self, command: str) -> str:
        """A message that makes Claude run `command`; the answer is its output."""
        raise NotImplementedError

    def slow(self) -> tuple[str, threading.Event]:
        """A message whose answer takes until the event is set (or forever)."""
        raise NotImplementedError

    def ask(self) -> str:
        """A message that makes Claude ask QUESTION with the options Red and Blue."""
        raise NotImplementedError

    def ask_many(self) -> str:
        """A message that makes Claude ask SIZES, a multi-select question."""
        raise NotImplementedError

    def saw(self, text: str) -> bool:
        """Did the model get `text` as a prompt, exactly?"""
        raise NotImplementedError

    def conversation_holds(self, stack: Stack, *prompts: str) -> bool:
        """Does the conversation Claude continues hold these earlier prompts?"""
        raise NotImplementedError

    def close(self) -> None:
        pass


class StandinBackend(Backend):
    name = "standin"

    def seed(self, default_mode: str, dialogs: bool) -> dict[str, str]:
        super().seed(default_mode, dialogs)
        if not dialogs:
            return {}
        return {
            "STANDIN_CLAUDE_TRUST_DIALOG": "1",
            "STANDIN_CLAUDE_API_KEY_DIALOG": "1",
            "ANTHROPIC_API_KEY": DEFAULT_API_KEY,
        }

    def command(self) -> list[str]:
        return standin_command()

    def bash(self, command: str) -> str:
        return f"!bash {command}"

    def slow(self) -> tuple[str, threading.Event]:
        return "!sleep 600", threading.Event()

    def ask(self) -> str:
        return "!ask"

    def ask_many(self) -> str:
        return f"!ask+ {SIZES} | Small | Medium | Large"

    def _prompts(self, stack: Stack) -> list[str]:
        state = json.loads(stack.layout.session_state(1).read_text())
        prompts = []
        for line in Path(state["transcript_path"]).read_text().splitlines():
            entry = json.loads(line)
            if entry.get("type") == "user" and isinstance(entry["message"]["content"], str):
                prompts.append(entry["message"]["content"])
        return prompts

    def saw(self, text: str) -> bool:
        return self._stack is not None and any(
            p.strip() == text.strip() for p in self._prompts(self._stack)
        )

    def conversation_holds(self, stack: Stack, *prompts: str) -> bool:
        seen = [p.strip() for p in self._prompts(stack)]
        return all(p in seen for p in prompts)

    _stack: Stack | None = None


class RealBackend(Backend):
    name = "real"

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        assert CLAUDE is not None
        self.fake = FakeAnthropic()
        self.fake.start()
        env = real_claude_env(self.claude_home, root / "claude-tmp", self.fake.base_url)
        self.wrapper = write_claude_wrapper(root / "claude", env, CLAUDE)

    def command(self) -> list[str]:
        return [str(self.wrapper)]

    def bash(self, command: str) -> str:
        trigger = f"please run tool {uuid.uuid4().hex[:8]}"
        call = ToolCall("Bash", {"command": command, "description": "Run a command"})
        self.fake.on(trigger, call, after_tool=lambda result: result)
        return trigger

    def slow(self) -> tuple[str, threading.Event]:
        gate = threading.Event()
        trigger = f"slow {uuid.uuid4().hex[:8]}"
        self.fake.on(trigger, "the slow answer", gate=gate)
        return trigger, gate

    def ask(self) -> str:
        trigger = f"ask me {uuid.uuid4().hex[:8]}"
        options = [{"label": c, "description": f"{c} it is"} for c in ("Red", "Blue")]
        question = {"question": QUESTION, "header": "Color", "options": options}
        call = ToolCall("AskUserQuestion", {"questions": [{**question, "multiSelect": False}]})
        self.fake.on(trigger, call, after_tool=lambda result: result)
        return trigger

    def ask_many(self) -> str:
        trigger = f"ask many {uuid.uuid4().hex[:8]}"
        options = [{"label": c, "description": ""} for c in ("Small", "Medium", "Large")]
        question = {"question": SIZES, "header": "Size", "options": options, "multiSelect": True}
        call = ToolCall("AskUserQuestion", {"questions": [question]})
        self.fake.on(trigger, call, after_tool=lambda result: result)
        return trigger

    def saw(self, text: str) -> bool:
        return text.strip() in self.fake.user_texts()

    def conversation_holds(self, stack: Stack, *prompts: str) -> bool:
        body = self.fake.message_requests[-1].body
        history = json.dumps(body["messages"] if body else [])
        return all(json.dumps(p)[1:-1] in history for p in prompts)

    def close(self) -> None:
        self.fake.stop()


BACKENDS = [
    pytest.param("standin", id="standin"),
    pytest.param(
        "real",
        id="real",
        marks=[
            pytest.mark.realclaude,
            pytest.mark.skipif(CLAUDE is None, reason=NOT_FOUND_REASON),
        ],
    ),
]


class Bridge:
    """The running stack plus its backend, with the steps the scenarios share."""

    def __init__(self, stack: Stack, channels: list[int], backend: Backend) -> None:
        self.stack = stack
        self.channels = channels
        self.channel = channels[0]
        self.backend = backend
        self.discord = stack.discord

    def post(self, text: str, **kwargs: Any) -> dict[str, Any]:
        return self.discord.post_user_message(self.channel, text, **kwargs)

    def reply(self, expected: str, timeout: float = 60) -> dict[str, Any]:
        return self.stack.wait_bot_message(self.channel, expected, timeout)

    def reply_where(self, accept: Any, what: str, timeout: float = 60) -> dict[str, Any]:
        def found() -> dict[str, Any]:
            return next((m for m in self.stack.bot_messages(self.channel) if accept(m)), {})

        return self.discord.wait_for(found, timeout, what)

    def click(self, label: str, timeout: float = 60) -> dict[str, Any]:
        """Click the button `label` of the newest message that has one."""

        def button() -> tuple[dict[str, Any], str] | None:
            for message in reversed(self.stack.bot_messages(self.channel)):
                for row in message.get("components") or []:
                    for component in row.get("components") or []:
                        if component.get("label") == label and not component.get("disabled"):
                            return message, str(component["custom_id"])
            return None

        found = self.discord.wait_for(button, timeout, f"a {label!r} button")
        assert found is not None
        message, custom_id = found
        self.discord.click_button(self.channel, int(message["id"]), custom_id)
        return message

    def claude_pid(self) -> int:
        out = self.stack.tmux.run(
            "display-message", "-p", "-t", "=claude-session-1:", "#{pane_pid}"
        )
        return int(out.strip())


@pytest.fixture(params=BACKENDS)
def bridge(
    request: pytest.FixtureRequest, short_tmp: Path, tmux_server: TmuxServer
) -> Iterator[Bridge]:
    kind = str(request.param)
    backend: Backend = RealBackend(short_tmp) if kind == "real" else StandinBackend(short_tmp)
    name = request.node.originalname
    env = backend.seed(MODES.get(name, "bypassPermissions"), name in WITH_DIALOGS)
    try:
        with running_stack(
            short_tmp, tmux_server, channels=2, claude_command=backend.command(), extra_env=env
        ) as (stack, channels):
            if isinstance(backend, StandinBackend):
                backend._stack = stack
            stack.start()
            try:
                stack.wait_all_running(timeout=90)
                yield Bridge(stack, channels, backend)
            finally:
                print(stack.output())  # shown by pytest when the scenario failed
    finally:
        if kind == "real":
            stop_all(tmux_server, short_tmp)
        backend.close()


# Claude's permission mode per scenario (default: bypassPermissions, no permission prompts).
MODES = {"test_a_permission_prompt_is_answered_from_discord": "default"}
# Scenarios that start Claude in an untrusted folder with an unapproved API key.
WITH_DIALOGS = {"test_start_up_dialogs_are_asked_in_discord"}


# -- the scenarios -----------------------------------------------------------------------------


def test_a_bash_command_runs_and_the_answer_comes_back_to_its_channel(bridge: Bridge) -> None:
    marker = bridge.backend.root / "ran"
    bridge.post(bridge.backend.bash(f"touch {marker} && echo ran-it-42"))
    bridge.reply("ran-it-42")
    assert marker.exists()
    other = bridge.channels[1]
    assert not [m for m in bridge.stack.bot_messages(other) if "ran-it-42" in m["content"]]


def test_a_multiline_message_with_a_code_block_arrives_exactly(bridge: Bridge) -> None:
    text = (
        "Please review this function:\n\n```python\n"
        "def add(a: int, b: int) -> int:\n"
        '    """Add two numbers."""\n'
        "    return a + b  # $PATH `tick` 'quote' \\n\n"
        "```\n\nThanks!"
    )
    bridge.post(text)
    bridge.reply(f"echo: {text}")
    assert bridge.backend.saw(text)
    long_text = "".join(f"line {i:02d}: {'x' * (i % 20)} `code` $HOME\n" for i in range(45))
    long_text += "```\nprint('end')\n```"
    assert 800 < len(long_text) < 2000 and long_text.count("\n") > 3
    bridge.post(long_text)
    bridge.reply_where(
        lambda m: m["content"].startswith("echo: line 00"), "the long echo's first part"
    )
    wait_until(lambda: bridge.backend.saw(long_text), 30, "the long text, exactly")


def test_a_bang_message_is_text_for_claude(bridge: Bridge) -> None:
    bridge.post("!echo this is not a shell command")
    bridge.reply("echo: !echo this is not a shell command")


def test_an_attachment_path_reaches_claude(bridge: Bridge) -> None:
    bridge.post("what is in this file?", attachments=[("../notes report.txt", b"kiwi inside")])
    folder = bridge.stack.layout.session_attachments(1).absolute()
    saved = folder / "notes report.txt"
    expected = f"echo: what is in this file?\n\nAttached files:\n{saved}"
    bridge.reply(expected)
    assert saved.read_bytes() == b"kiwi inside"
    assert bridge.backend.saw(expected.removeprefix("echo: "))


def test_a_permission_prompt_is_answered_from_discord(bridge: Bridge) -> None:
    marker = bridge.backend.root / "allowed"
    bridge.post(bridge.backend.bash(f"touch {marker} && echo allowed-77"))
    asked = bridge.click("Allow")
    assert "permission" in asked["content"] and str(marker) in asked["content"]
    # Waiting for you: the prompt pings the author of the message, and nobody else.
    author = bridge.discord.default_user.id
    assert asked["content"].startswith(f"<@{author}> 🔐")
    notified = bridge.discord.pings(int(asked["id"]))
    assert notified is not None and notified.users == (author,) and not notified.everyone
    bridge.reply("allowed-77")
    assert marker.exists()

    never = bridge.backend.root / "denied"
    bridge.post(bridge.backend.bash(f"touch {never}"))
    bridge.click("Deny")
    bridge.reply_where(lambda m: "denied this from Discord" in m["content"], "the denial")
    assert not never.exists()


def test_a_question_is_answered_from_discord(bridge: Bridge) -> None:
    bridge.post(bridge.backend.ask())
    asked = bridge.click("Blue")
    assert QUESTION in asked["content"]
    bridge.reply_where(lambda m: f'"{QUESTION}"="Blue"' in m["content"], "the answer")


def test_several_options_or_free_text_answer_from_discord(bridge: Bridge) -> None:
    bridge.post(bridge.backend.ask_many())
    asked = bridge.reply_where(
        lambda m: SIZES in m["content"] and bool(m["components"]), "the menu"
    )
    menu, submit = (row["components"][0] for row in asked["components"])
    bridge.discord.click_button(
        bridge.channel, int(asked["id"]), menu["custom_id"], values=["0", "2"]
    )
    bridge.discord.click_button(bridge.channel, int(asked["id"]), submit["custom_id"])
    bridge.reply_where(lambda m: f'"{SIZES}"="Small, Large"' in m["content"], "the answer")

    bridge.post(bridge.backend.ask())
    asked = bridge.click("Other…")
    assert QUESTION in asked["content"]

    def form() -> int:
        for interaction in bridge.discord.call(lambda s: list(s.interactions.live)):
            if bridge.discord.open_modal(interaction) is not None:
                return interaction
        return 0

    opened = bridge.discord.wait_for(form, 20, "the Other… form")
    bridge.discord.submit_modal(opened, {TEXT_INPUT_ID: "purple haze"})
    bridge.reply_where(lambda m: f'"{QUESTION}"="purple haze"' in m["content"], "typed answer")


def test_interrupt_stops_the_turn(bridge: Bridge) -> None:
    text, gate = bridge.backend.slow()
    try:
        message = bridge.post(text)
        wait_until(
            lambda: "✅" in bridge.discord.reactions(bridge.channel, int(message["id"])),
            30,
            "Claude to accept the prompt",
        )
        bridge.discord.invoke_command(bridge.channel, "interrupt")
        bridge.reply_where(lambda m: INTERRUPTED in m["content"], "the interrupted turn")
        bridge.post("after the interrupt")
        bridge.reply("echo: after the interrupt")
        contents = [m["content"] for m in bridge.stack.bot_messages(bridge.channel)]
        assert not [c for c in contents if "slept" in c or "the slow answer" in c]
    finally:
        gate.set()


def test_killing_claude_resumes_the_same_conversation(bridge: Bridge) -> None:
    bridge.post("remember kiwi")
    bridge.reply("echo: remember kiwi")
    state = bridge.stack.layout.session_state(1)
    conversation = json.loads(state.read_text())["conversation_id"]
    # The real CLI saves a turn a moment after its Stop hook; a Claude killed before that
    # loses it (the worker then starts a new conversation): kill it once it saved.
    transcript = Path(json.loads(state.read_text())["transcript_path"])

    def saved() -> bool:  # the CLI may not have created the file yet
        return transcript.exists() and '"assistant"' in transcript.read_text()

    wait_until(saved, 30, "the turn saved")
    pid = bridge.claude_pid()
    for process in [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]:
        os.kill(process.pid, signal.SIGKILL)
    wait_until(lambda: bridge.claude_pid() != pid, 30, "Claude restarted")
    bridge.post("what fruit?")
    bridge.reply("echo: what fruit?", timeout=90)
    assert json.loads(state.read_text())["conversation_id"] == conversation
    assert bridge.backend.conversation_holds(bridge.stack, "remember kiwi", "what fruit?")


def test_control_characters_never_act_as_keys(bridge: Bridge) -> None:
    bridge.post("a\x1b[201~b\x03c\x1bd\x00e\x04f\x1ag\r\nh")
    bridge.reply("echo: a[201~bcdefg\nh")
    assert bridge.backend.saw("a[201~bcdefg\nh")


def test_slash_commands_pass_through(bridge: Bridge) -> None:
    state = bridge.stack.layout.session_state(1)
    before = json.loads(state.read_text())["conversation_id"]
    message = bridge.post("/clear")
    wait_until(
        lambda: json.loads(state.read_text())["conversation_id"] != before,
        30,
        "/clear to start a new conversation",
    )
    assert "❌" not in bridge.discord.reactions(bridge.channel, int(message["id"]))
    bridge.reply_where(
        lambda m: m["content"].startswith("✅ Claude Code ran `/clear`"), "the confirmation"
    )
    unknown = bridge.post("/frobnicate")
    refused = bridge.reply_where(lambda m: "frobnicate" in m["content"], "the refusal")
    # The CLI's own words: "Unknown command: /frobnicate" (the stand-in: "Unknown slash ...").
    assert refused["content"].startswith("❌ Not delivered to Claude: Claude Code says: Unknown")
    bridge.discord.wait_for(
        lambda: "❌" in bridge.discord.reactions(bridge.channel, int(unknown["id"])), 10, "❌"
    )
    bridge.post("after clear")
    bridge.reply("echo: after clear")


def test_start_up_dialogs_are_asked_in_discord(bridge: Bridge) -> None:
    asked = bridge.click("Yes, I trust this folder")
    assert "trust" in asked["content"]
    notified = bridge.discord.pings(int(asked["id"]))  # no message waits for it: nobody
    assert notified is not None and not notified.anyone and "<@" not in asked["content"]
    asked = bridge.click("Yes")
    assert "API key" in asked["content"]
    bridge.post("hello after the dialogs")
    bridge.reply("echo: hello after the dialogs")
