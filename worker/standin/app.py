"""The stand-in session: a state machine driven by keys, timers and signals.

Why: the bridge depends on the order in which the real CLI does things (hooks, transcript
lines, screen states), not on a model, so this module reproduces that order with
deterministic answers. One thread: select() on the tty, a signal pipe and a running
tool's output; hooks run synchronously, so keys typed meanwhile wait in the tty.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from typing import Any

from . import screen
from .cli import EarlyExitError, Knobs, Options, long_answer, parse_args, seconds
from .hooks import (
    BackgroundHooks,
    HookRunner,
    decision,
    load_settings,
    permission_decision,
    pre_tool_decision,
)
from .injected import (
    RETRY_PLACEHOLDER,
    background_task,
    cross_session,
    error_text,
    injected_answer,
    task_notification,
)
from .keys import Key, KeyParser
from .status_line import StatusLineFeed
from .store import INTERRUPTED, Entry, Transcript, is_uuid, new_uuid, project_dir
from .term import Terminal

EXIT_COMMANDS = ("exit", "quit")
CLEAR_COMMANDS = ("clear", "reset", "new")
VERBS = ("Thinking", "Pondering", "Cogitating", "Noodling", "Brewing")
REJECTED = "The user doesn't want to proceed with this tool use. The tool use was rejected."
SIGNAL_HOOK_TIMEOUT = 1.5
DIALOG_DEAF = 0.25  # a just-shown dialog re-renders and drops keys (real CLI: ~0.2 s)
ASK_TOOL = "AskUserQuestion"
ANIMATION = 0.25


class InputBox:
    """The prompt box: typed characters and pasted blocks, as (shown, submitted) parts.

    Like the real CLI 2.1.330: a paste of more than 3 lines or 800 characters shows as
    `[Pasted text #N +K lines]` and is submitted wrapped in `<pasted_content>`; a `!` as the
    first thing in an empty box switches to shell mode; the submitted prompt loses its
    trailing whitespace (its leading whitespace stays).
    """

    def __init__(self) -> None:
        self.parts: list[tuple[str, str]] = []
        self.pastes = 0
        self.shell = False

    def type(self, text: str) -> None:
        """Insert typed text, one part per character so Backspace removes one."""
        self.parts.extend((char, char) for char in text)

    def paste(self, text: str) -> None:
        """Insert a paste; one of more than 3 lines (or 800 chars) shows as a reference
        (and is submitted wrapped in <pasted_content>, like the real CLI 2.1.330)."""
        text = text.replace("\t", "    ")  # the real CLI does this to pasted tabs
        newlines = text.count("\n")
        if newlines <= 2 and len(text) <= 800:
            self.type(text)
            return
        self.pastes += 1
        label = f" +{newlines} lines" if newlines else ""
        self.parts.append((f"[Pasted text #{self.pastes}{label}]", text))

    def backspace(self) -> None:
        """Delete the last character or the last pasted block."""
        if self.parts:
            self.parts.pop()

    def take(self) -> str:
        """The full text to submit; empties the box."""
        pieces = []
        wrapped = False
        for shown, real in self.parts:
            if shown != real and shown.startswith("[Pasted text #"):
                tag = os.urandom(2).hex()
                opening, closing = f'<pasted_content id="{tag}">', f'</pasted_content id="{tag}">'
                pieces.append(f"\n\n{opening}\n{real}\n{closing}\n")
                wrapped = True
            else:
                pieces.append(real)
        text = "".join(pieces)
        self.parts, self.pastes = [], 0
        return text if wrapped else text.rstrip()

    def shown(self) -> str:
        """What the box displays."""
        return "".join(shown for shown, _ in self.parts)


class Tool:
    """A tool call of a turn (Bash, or AskUserQuestion), from its dialog to its output."""

    def __init__(self, command: str, name: str = "Bash", tool_input: Any = None) -> None:
        self.command = command
        self.name = name
        self.input = tool_input if tool_input is not None else {"command": command}
        self.permission_hooks: BackgroundHooks | None = None
        self.use_id = "toolu_" + new_uuid().replace("-", "")[:24]
        self.stage = "pending"
        self.notify_at: float | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.output: dict[int, bytearray] = {}
        self.open_fds: set[int] = set()
        self.started = 0.0

    def fields(self) -> dict[str, Any]:
        """The tool fields shared by PreToolUse, PermissionRequest and PostToolUse."""
        return {"tool_name": self.name, "tool_input": self.input}


class Turn:
    """One prompt being answered."""

    def __init__(self, prompt: str, verb: str) -> None:
        self.prompt = prompt
        self.prompt_id = new_uuid()
        self.started = time.monotonic()
        self.verb = verb
        self.deadline: float | None = None
        self.answer = ""
        self.tool: Tool | None = None
        self.failure = ""  # !fail: the StopFailure error kind
        self.background = 0.0  # !background: seconds the task it leaves runs
        self.then = ""  # !peer: a prompt another session sends once this turn ends


class App:
    """A running session; build with App(opts, knobs), then run() returns the exit code."""

    def __init__(self, opts: Options, knobs: Knobs) -> None:
        self.opts, self.knobs = opts, knobs
        self.cwd = os.getcwd()
        self.home = os.environ.get("HOME") or os.path.expanduser("~")
        try:
            settings = load_settings(opts.settings, self.home, self.cwd)
        except ValueError as exc:
            raise EarlyExitError(1, f"Error: Invalid --settings: {exc}\n") from exc
        mode = opts.permission_mode or settings.default_mode or "default"
        self.mode = "bypassPermissions" if opts.skip_permissions else mode
        self.hooks = HookRunner(settings, self.cwd)
        self.status_line = StatusLineFeed(settings.status_line, self.hooks, opts.model)
        self.startup = _startup_dialogs(opts, knobs, settings.skip_dangerous_prompt)
        self.shown_at = 0.0  # when the current dialog appeared (keys just after are lost)
        self.exit_message = ""
        self.transcript = Transcript(self.home, self.cwd, "", opts.model)
        self.source = self._pick_session()
        self.entries: list[Entry] = self.transcript.load() if self.source == "resume" else []
        self.phase = "starting"
        self.turn: Turn | None = None
        self.queue: list[str] = []
        self.injected: list[str] = []  # prompts the CLI submits itself, when idle
        self.tasks: list[tuple[float, dict[str, str]]] = []  # background: (end, task)
        self.placeholder = ""  # shown in the empty box (after a failed turn)
        self.box = InputBox()
        self.parser = KeyParser()
        self.term = Terminal()
        self.choice = 0
        self.turns = 0
        self.ready_at = time.monotonic() + knobs.startup
        self.last_text_at = -1e9
        self.ctrl_c_at = -1e9
        self.hint_until: float | None = None
        self.idle_notify_at: float | None = None
        self.next_frame = 0.0
        self.dirty = True
        self.exit_code: int | None = None
        self.signals: list[int] = []

    # ---- session identity -------------------------------------------------------------

    def _pick_session(self) -> str:
        """Resolve --resume / --continue / --session-id like the real CLI; return the source."""
        opts = self.opts
        if opts.resume is not None:
            self._set_session(opts.resume)
            if not is_uuid(opts.resume) or not self.transcript.exists():
                raise EarlyExitError(1, f"No conversation found with session ID: {opts.resume}\n")
            return "resume"
        if opts.continue_last:
            self._set_session(self._latest_session())
            return "resume"
        if opts.session_id is not None:
            if not is_uuid(opts.session_id):
                raise EarlyExitError(1, "Error: Invalid session ID. Must be a valid UUID.\n")
            self._set_session(opts.session_id)
            if self.transcript.exists():
                raise EarlyExitError(1, f"Error: Session ID {opts.session_id} is already in use.\n")
            return "startup"
        self._set_session(new_uuid())
        return "startup"

    def _latest_session(self) -> str:
        """The most recently written transcript of this folder (--continue)."""
        folder = project_dir(self.home, self.cwd)
        try:
            names = [n for n in os.listdir(folder) if n.endswith(".jsonl")]
        except OSError:
            names = []
        if not names:
            raise EarlyExitError(1, "No conversation found to continue\n")
        latest = max(names, key=lambda n: os.path.getmtime(os.path.join(folder, n)))
        return latest[: -len(".jsonl")]

    def _set_session(self, session_id: str) -> None:
        """Switch every holder of the session id (hooks, transcript)."""
        self.session_id = session_id
        self.transcript.switch(session_id)
        self.hooks.session_id = session_id
        self.hooks.transcript_path = self.transcript.path

    def log(self, event: str, **fields: Any) -> None:
        """Append one JSON line to STANDIN_CLAUDE_LOG for tests that span restarts."""
        if not self.knobs.log:
            return
        record = {"event": event, "session_id": self.session_id, **fields}
        record.update(pid=os.getpid(), t=time.time())
        try:
            with open(self.knobs.log, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        except OSError:
            pass

    # ---- main loop ----------------------------------------------------------------------

    def run(self) -> int:
        """Set up the tty and signals, loop until an exit is decided, restore the tty."""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGWINCH):
            signal.signal(signum, self._on_signal)
        self.term.enter()
        self.log("start", source=self.source)
        try:
            while self.exit_code is None:
                self._step(wake_r)
        finally:
            self.term.leave()
        if self.exit_message:
            self.term.write(self.exit_message.encode() + b"\r\n")
        return self.exit_code

    def _on_signal(self, signum: int, _frame: object) -> None:
        """Only record the signal; the loop acts on it (the wakeup fd ends the select)."""
        self.signals.append(signum)

    def _step(self, wake_r: int) -> None:
        """One pass: draw if needed, wait for input or the next timer, handle what came."""
        if self.dirty:
            self.paint()
        tool = self.turn.tool if self.turn else None
        tool_fds = list(tool.open_fds) if tool else []
        hooks = tool.permission_hooks if tool else None
        hook_fds = hooks.fds() if hooks else []
        try:
            ready = select.select([0, wake_r, *tool_fds, *hook_fds], [], [], self._timeout())[0]
        except (OSError, ValueError):
            ready = []
        for fd in hook_fds:
            if fd in ready and hooks is not None:
                hooks.read(fd)
        if hooks is not None and hooks.done and tool is not None and self.turn is not None:
            self._permission_hooks_done(self.turn, tool, hooks)
        if wake_r in ready:
            self._drain_wakeups(wake_r)
        if 0 in ready and self.exit_code is None:
            self._read_keys()
        for fd in tool_fds:
            if fd in ready and tool is not None:
                self._read_tool(tool, fd)
        if self.exit_code is None:
            self._timers(time.monotonic())

    def _timeout(self) -> float | None:
        """Seconds until the next timer, None if nothing is scheduled."""
        now = time.monotonic()
        due: list[float] = []
        if self.phase == "starting":
            due.append(self.ready_at)
        if self.parser.esc_deadline is not None:
            due.append(self.parser.esc_deadline)
        if self.turn is not None:
            due.append(self.next_frame)
            if self.turn.deadline is not None:
                due.append(self.turn.deadline)
            tool = self.turn.tool
            if tool is not None and tool.notify_at is not None:
                due.append(tool.notify_at)
            if tool is not None and tool.stage == "running" and not tool.open_fds:
                due.append(now + 0.02)
        if self.idle_notify_at is not None:
            due.append(self.idle_notify_at)
        due += [end for end, _ in self.tasks]
        if self.hint_until is not None:
            due.append(self.hint_until)
        return max(0.0, min(due) - now) if due else None

    def _drain_wakeups(self, wake_r: int) -> None:
        """Act on recorded signals: a resize redraws, anything else ends the session."""
        try:
            while os.read(wake_r, 512):
                pass
        except OSError:
            pass
        signals, self.signals = self.signals, []
        for signum in signals:
            if signum == signal.SIGWINCH:
                self.dirty = True
            elif self.exit_code is None:
                self.quit("other", 128 + signum, SIGNAL_HOOK_TIMEOUT)

    def _read_keys(self) -> None:
        """Read the tty; before the UI is ready the bytes are dropped, like the real CLI."""
        try:
            data = os.read(0, 65536)
        except OSError:
            data = b""
        if not data:
            self.quit("other", 0, SIGNAL_HOOK_TIMEOUT)
            return
        if self.phase == "starting":
            return
        now = time.monotonic()
        self._keys(self.parser.feed(data, now), now)

    def _keys(self, keys: list[Key], now: float) -> None:
        """Dispatch keys to the dialog or the input box that currently has the focus."""
        for key in keys:
            if self.exit_code is not None:
                return
            self.dirty = True
            self.idle_notify_at = None
            tool = self.turn.tool if self.turn else None
            dialog = self.phase == "dialog" or (
                tool is not None and tool.stage in ("permission", "question")
            )
            if dialog and now - self.shown_at < DIALOG_DEAF:
                continue  # a dialog that just appeared re-renders and loses early keys
            if self.phase == "dialog":
                self._startup_key(key)
            elif tool is not None and tool.stage == "permission":
                self._permission_key(key)
            elif tool is not None and tool.stage == "question":
                self._question_key(key)
            else:
                self._box_key(key, now)

    def _timers(self, now: float) -> None:
        """Fire whatever is due: readiness, a lone Escape, answers, notifications."""
        if self.phase == "starting" and now >= self.ready_at:
            self.dirty = True
            self._next_startup_dialog()
        if self.parser.esc_deadline is not None and now >= self.parser.esc_deadline:
            self._keys(self.parser.flush(now), now)
        turn = self.turn
        tool = turn.tool if turn else None
        if turn is not None and tool is not None:
            self._tool_timers(turn, tool, now)
        if self.turn is not None and now >= self.next_frame:
            self.next_frame = now + ANIMATION
            self.dirty = True
        due = turn.deadline if turn is not None and self.turn is turn else None
        if turn is not None and due is not None and now >= due:
            self._finish(turn)
        if self.idle_notify_at is not None and now >= self.idle_notify_at:
            self.idle_notify_at = None
            message = {"message": "Claude is waiting for your input"}
            self.hooks.fire("Notification", {**message, "notification_type": "idle_prompt"})
        if self.hint_until is not None and now >= self.hint_until:
            self.hint_until = None
            self.dirty = True
        for end, task in [t for t in self.tasks if now >= t[0]]:
            self.tasks.remove((end, task))
            self.injected.append(task_notification(task["id"], task["description"]))
        self._dequeue()

    def _become_ready(self) -> None:
        """SessionStart, then the prompt is live; an initial prompt argument is submitted."""
        self.phase = "ready"
        self.hooks.fire(
            "SessionStart", {"source": self.source, "model": self.opts.model}, self.source
        )
        self.status_line.send(self.transcript.usages, delay=0)
        if self.opts.prompt:
            self._submit(self.opts.prompt)

    # ---- drawing ------------------------------------------------------------------------

    def paint(self) -> None:
        """Redraw the whole screen from the state."""
        self.dirty = False
        rows, cols = self.term.size()
        cursor: tuple[int, int] | None = None
        if self.phase == "dialog":
            lines = self._startup_screen(cols)
        else:
            lines = screen.header(self.opts.model, self.mode, self.cwd)
            lines += screen.entry_lines(self.entries, cols)
            if self.phase == "ready":
                bottom, box_end = self._bottom(cols, rows)
                if box_end is not None:
                    cursor = (len(lines) + box_end, screen.width(bottom[box_end]))
                lines += bottom
        self.term.write(screen.paint(lines, rows, cols, cursor))

    def _bottom(self, cols: int, rows: int) -> tuple[list[str], int | None]:
        """Spinner, queue, input box and footer, or the permission dialog in their place."""
        turn = self.turn
        tool = turn.tool if turn else None
        out = [""]
        if tool is not None and tool.stage == "permission":
            return out + screen.permission_dialog(tool.command, self.cwd, self.choice, cols), None
        if tool is not None and tool.stage == "question":
            question = _questions(tool.input)[0]
            lines = screen.question_dialog(*question, self.choice, cols)
            return out + lines, None
        if turn is not None:
            out.append(screen.spinner(time.monotonic() - turn.started, turn.verb))
        for text in self.queue:
            out.append("  Queued · " + screen.clean(text.strip().split("\n")[0]))
        mark = screen.SHELL_MARK if self.box.shell else screen.PROMPT_MARK
        shown = self.box.shown() or ("" if turn or self.box.shell else self.placeholder)
        box = screen.block(mark, "  ", shown, cols)
        tallest = max(3, rows // 2)
        if len(box) > tallest:
            # Like the real CLI: the box keeps its end (the cursor) in view and says how
            # many lines are above: `─── ↑ N more ───…`.
            hidden = len(box) - tallest
            box = box[hidden:]
            top = f"─── ↑ {hidden} more "
            out.append(top + screen.RULE_CHAR * max(0, cols - screen.width(top)))
        else:
            out.append(screen.rule(cols))
        out += box
        box_end = len(out) - 1
        if self.hint_until is not None:
            footer = "  Press Ctrl-C again to exit"
        elif self.box.shell:
            footer = screen.SHELL_FOOTER
        else:
            footer = screen.BUSY_FOOTER if turn is not None else screen.IDLE_FOOTER
        return [*out, screen.rule(cols), footer], box_end

    # ---- keys ---------------------------------------------------------------------------

    def _box_key(self, key: Key, now: float) -> None:
        """Edit the prompt box; Enter submits (or queues while busy), Escape interrupts."""
        kind = key.kind
        self.placeholder = ""
        if kind in ("text", "paste", "newline"):
            text = key.text if kind != "newline" else "\n"
            if not self.box.parts and not self.box.shell and text.startswith("!"):
                self.box.shell, text = True, text[1:]
            if kind == "paste":
                self.box.paste(text)
            else:
                self.box.type(text)
            self.last_text_at = now
        elif kind == "backspace":
            if not self.box.parts and self.box.shell:
                self.box.shell = False
            self.box.backspace()
        elif kind == "enter":
            self._enter(now)
        elif kind in ("escape", "ctrl_c") and self.turn is not None:
            self._interrupt()
        elif kind == "ctrl_c" or (kind == "ctrl_d" and not self.box.parts):
            if now - self.ctrl_c_at < 1:
                self.quit("other", 0)
                return
            self.box.take()
            self.ctrl_c_at = now
            self.hint_until = now + 1

    def _enter(self, now: float) -> None:
        """Submit the box, unless the lost-Enter fault swallows this Enter."""
        if self.knobs.drop_enter and now - self.last_text_at < self.knobs.drop_enter:
            self.log("enter_dropped")
            return
        shell = self.box.shell
        text = self.box.take()
        if not text.strip():
            return
        if shell:
            self.box.shell = False
            self._shell(text.strip())
            return
        if self.turn is not None:
            self.queue.append(text)
        else:
            self._submit(text)

    def _next_startup_dialog(self) -> None:
        """Show the next start-up dialog (trust, API key, bypass), or become ready."""
        if not self.startup:
            self._become_ready()
            return
        self.phase = "dialog"
        self.choice = 1 if self.startup[0] == "api_key" else 0  # the safe "No" is selected
        self.shown_at = time.monotonic()
        self.dirty = True

    def _startup_screen(self, cols: int) -> list[str]:
        kind = self.startup[0]
        if kind == "trust":
            return screen.trust_dialog(self.cwd, self.choice, cols)
        if kind == "api_key":
            return screen.api_key_dialog(os.environ.get("ANTHROPIC_API_KEY", ""), self.choice, cols)
        return screen.bypass_dialog(self.choice, cols)

    def _startup_key(self, key: Key) -> None:
        """Up/Down move, Enter confirms, Escape declines; number keys do nothing."""
        kind = self.startup[0]
        if key.kind in ("up", "down"):
            self.choice = max(0, min(1, self.choice + (1 if key.kind == "down" else -1)))
            return
        if key.kind not in ("enter", "escape"):
            return
        accepted = key.kind == "enter" and self.choice == (0 if kind == "api_key" else 1)
        if not accepted and kind != "api_key":
            if kind == "trust":
                self.exit_message = "Claude Code didn't start because this folder isn't trusted."
            self.exit_code = 1
            return
        self.startup.pop(0)
        self._next_startup_dialog()

    def _permission_key(self, key: Key) -> None:
        """Bash permission dialog: 1/2 (or Enter on them) allow; 3 or Escape refuse, which
        ends the turn like an interrupt (no Stop hook, as the real CLI)."""
        turn = self.turn
        assert turn is not None and turn.tool is not None
        tool = turn.tool
        pick = _pick(key, self.choice, 3)
        if key.kind in ("up", "down"):
            self.choice = max(0, min(2, self.choice + (1 if key.kind == "down" else -1)))
            return
        if key.kind in ("ctrl_c", "escape") or pick == 2:
            self._cancel_permission_hooks(tool)
            self._interrupt()
        elif pick is not None:
            self._cancel_permission_hooks(tool)
            self.choice = 0
            self._run_tool(turn, tool)

    def _question_key(self, key: Key) -> None:
        """AskUserQuestion screen: an option's digit (or Enter) answers, Escape declines."""
        turn = self.turn
        assert turn is not None and turn.tool is not None
        _header, question, options = _questions(turn.tool.input)[0]
        if key.kind in ("up", "down"):
            last = len(options)
            self.choice = max(0, min(last, self.choice + (1 if key.kind == "down" else -1)))
            return
        if key.kind == "escape":
            self._question_result(turn, turn.tool, None, "declined to answer")
            return
        pick = _pick(key, self.choice, len(options) + 2)
        if pick is not None and pick < len(options):
            self._question_result(turn, turn.tool, {question: options[pick]}, "")

    # ---- turns --------------------------------------------------------------------------

    def _submit(self, text: str) -> None:
        """A submitted prompt: a local slash command, or a turn for the model."""
        if not self._slash_command(text.strip()):
            self._start_turn(text)

    def _slash_command(self, text: str) -> bool:
        """Handle "/name ..." locally; False if text is not one (a path like /tmp/x is not)."""
        name = text[1:].split(None, 1)[0] if text[:1] == "/" and text[1:2].strip() else ""
        if not name or "/" in name:
            return False
        if name in EXIT_COMMANDS:
            self.quit("prompt_input_exit", 0)
        elif name in CLEAR_COMMANDS:
            self._clear()
        else:
            self.entries += [("prompt", text), ("info", f"Unknown slash command: {name}")]
            self._dequeue()
        return True

    def _start_turn(self, text: str) -> None:
        """Show the prompt, fire UserPromptSubmit, write the prompt line, plan the answer."""
        turn = Turn(text, VERBS[self.turns % len(VERBS)])
        self.turns += 1
        self.turn = turn
        self.hooks.prompt_id = turn.prompt_id
        self.entries.append(("prompt", text))
        self.log("prompt", prompt=text, prompt_id=turn.prompt_id)
        self.paint()
        fields = {"prompt": text, "prompt_id": turn.prompt_id, "permission_mode": self.mode}
        self.hooks.fire("UserPromptSubmit", fields)
        self.transcript.user(text)
        self._plan(turn)

    def _plan(self, turn: Turn) -> None:
        """The scripted answer: !sleep N, !bash CMD, !ask [Q | A | B], !ask+ (multi-select),
        !crash, !long N, !fail KIND, !background N, !peer NAME TEXT (worker/standin/
        injected.py), else an echo of the prompt (as the model sees it: without
        surrounding whitespace)."""
        word, _, arg = turn.prompt.strip().partition(" ")
        arg = arg.strip()
        said = injected_answer(turn.prompt)
        if said is not None or word in ("!fail", "!background", "!peer"):
            self._plan_injected(turn, word, arg, said)
            return
        if word == "!crash":
            os._exit(3)
        if word == "!bash" and arg:
            self._start_tool(turn, Tool(arg))
            return
        if word in ("!ask", "!ask+"):
            self._start_tool(turn, Tool("", ASK_TOOL, _ask_input(arg, word == "!ask+")))
            return
        wait = self.knobs.delay
        nap = seconds(arg) if word == "!sleep" else None
        if nap is not None:
            turn.answer, wait = f"slept {arg}", nap
        elif word == "!long" and arg.isdigit():
            turn.answer = long_answer(int(arg))
        else:
            turn.answer = "echo: " + turn.prompt.strip()
        turn.deadline = time.monotonic() + wait

    def _plan_injected(self, turn: Turn, word: str, arg: str, said: str | None) -> None:
        """A turn that fails, leaves a background task, or that the CLI gave itself."""
        if said is not None:
            turn.answer = said
        elif word == "!fail":
            turn.failure = arg or "server_error"
            turn.answer = error_text(turn.failure)
        elif word == "!background":
            turn.background = seconds(arg) or 1.0
            turn.answer = "Started a background task."
        else:
            sender, _, text = arg.partition(" ")
            turn.then = cross_session(sender or "peer", text or "hello")
            turn.answer = "echo: " + turn.prompt.strip()
        turn.deadline = time.monotonic() + self.knobs.delay

    def _finish(self, turn: Turn) -> None:
        """The answer is ready: show it, write it, then fire Stop (transcript first), or
        StopFailure for a turn an API error ends."""
        turn.deadline = None
        self.entries.append(("answer", turn.answer))
        self.transcript.assistant({"type": "text", "text": turn.answer})
        self.paint()
        self.log("stop", prompt_id=turn.prompt_id)  # when Stop fires, for latency benchmarks
        if turn.failure:
            self.placeholder = RETRY_PLACEHOLDER
            failed = {"error": turn.failure, "last_assistant_message": turn.answer}
            self.hooks.fire("StopFailure", {**failed, "prompt_id": turn.prompt_id}, turn.failure)
            self._end_turn(turn, interrupted=False)
            return
        if turn.background:
            task = background_task(new_uuid()[:9], "background sleep", f"sleep {turn.background}")
            self.tasks.append((time.monotonic() + turn.background, task))
        if turn.then:
            self.injected.append(turn.then)
        fields: dict[str, Any] = {
            "stop_hook_active": False,
            "last_assistant_message": turn.answer,
            "background_tasks": [task for _, task in self.tasks],
            "session_crons": [],
        }
        self.status_line.send(self.transcript.usages)  # debounced: after Stop starts
        self.hooks.fire("Stop", {**fields, "prompt_id": turn.prompt_id})
        self._other_stop_hooks()
        self._end_turn(turn, interrupted=False)

    def _other_stop_hooks(self) -> None:
        """Wait for the other Stop hooks (a knob), the spinner going on meanwhile."""
        until = time.monotonic() + self.knobs.stop_hooks
        while (left := until - time.monotonic()) > 0:
            time.sleep(min(ANIMATION, left))
            self.paint()

    def _interrupt(self) -> None:
        """Escape/Ctrl-C while busy: stop the turn; no Stop hook (as the real CLI). Before
        anything was answered the prompt goes back into the box for editing."""
        turn = self.turn
        assert turn is not None
        tool = turn.tool
        if tool is not None:
            self._cancel_permission_hooks(tool)
            if tool.proc is not None and tool.proc.poll() is None:
                _kill_group(tool.proc)
        marker = INTERRUPTED + (" for tool use" if tool is not None else "")
        self.transcript.user([{"type": "text", "text": marker}])
        restore = tool is None and not self.queue and not self.box.parts
        if restore and self.entries[-1:] == [("prompt", turn.prompt)]:
            self.entries.pop()
            self.box.type(turn.prompt)
        else:
            self.entries.append(("interrupted", ""))
        self._end_turn(turn, interrupted=True)

    def _end_turn(self, turn: Turn, interrupted: bool) -> None:
        """Back to idle; queued prompts go on (or back into the box after an interrupt)."""
        self.turn = None
        self.hooks.prompt_id = ""
        self.dirty = True
        self.log("turn_end", prompt_id=turn.prompt_id, answer=turn.answer, interrupted=interrupted)
        if self.knobs.idle_notify:
            self.idle_notify_at = time.monotonic() + self.knobs.idle_notify
        self._dequeue()  # after an interrupt too: the real CLI sends a queued prompt at once

    def _dequeue(self) -> None:
        """Submit the next queued prompt, like the real CLI does when a turn ends."""
        if self.turn is not None or self.exit_code is not None or self.phase != "ready":
            return
        if self.queue:
            self._submit(self.queue.pop(0))
        elif self.injected:
            self._start_turn(self.injected.pop(0))

    # ---- the Bash tool ------------------------------------------------------------------

    def _start_tool(self, turn: Turn, tool: Tool) -> None:
        """Tool call: transcript, PreToolUse, then permission (hook, dialog) or run."""
        turn.tool = tool
        shown = tool.command if tool.name == "Bash" else _questions(tool.input)[0][1]
        self.entries.append(("tool", f"{tool.name}({shown})"))
        block = {"type": "tool_use", "id": tool.use_id, "name": tool.name}
        self.transcript.assistant({**block, "input": tool.input}, "tool_use")
        fields = {**tool.fields(), "tool_use_id": tool.use_id}
        outputs = self.hooks.fire("PreToolUse", fields, tool.name)
        if tool.name == ASK_TOOL:
            self._ask(turn, tool, outputs)
            return
        verdict = decision(outputs, "PreToolUse")
        if verdict is None and self.mode != "bypassPermissions":
            verdict = "ask"
        if verdict == "deny":
            self._deny_tool(turn, tool)
        elif verdict == "ask":
            # The dialog shows while PermissionRequest hooks run; whichever answers first
            # decides (the main loop reads the hooks' output).
            fields = {**tool.fields(), "permission_mode": self.mode}
            tool.permission_hooks = self.hooks.start("PermissionRequest", fields, tool.name)
            tool.stage = "permission"
            tool.notify_at = time.monotonic() + self.knobs.permission_notify
            self.shown_at = time.monotonic()
            self.choice = 0
            self.dirty = True
        else:
            self._run_tool(turn, tool)

    def _permission_hooks_done(self, turn: Turn, tool: Tool, hooks: BackgroundHooks) -> None:
        """Every PermissionRequest hook exited: apply the first decision, if any."""
        tool.permission_hooks = None
        if tool.stage != "permission":
            return
        verdict, message = permission_decision(hooks.results())
        if verdict == "allow":
            self._run_tool(turn, tool)
        elif verdict == "deny":
            self._deny_tool(turn, tool, message or REJECTED)
        self.dirty = True

    def _cancel_permission_hooks(self, tool: Tool) -> None:
        if tool.permission_hooks is not None:
            tool.permission_hooks.cancel()
            tool.permission_hooks = None

    def _ask(self, turn: Turn, tool: Tool, outputs: list[str]) -> None:
        """AskUserQuestion: answered by a PreToolUse hook (allow with `updatedInput.answers`),
        refused by one (deny), or asked on the screen."""
        verdict, updated, reason = pre_tool_decision(outputs)
        answers = updated.get("answers") if isinstance(updated, dict) else None
        if verdict == "allow" and isinstance(answers, dict) and answers:
            self._question_result(turn, tool, {str(k): str(v) for k, v in answers.items()}, "")
        elif verdict == "deny":
            self._question_result(turn, tool, None, reason or "the question was refused")
        else:
            tool.stage = "question"
            self.shown_at = time.monotonic()
            self.choice = 0
            self.dirty = True

    def _question_result(
        self, turn: Turn, tool: Tool, answers: dict[str, str] | None, refusal: str
    ) -> None:
        """The tool result of AskUserQuestion; the answer is that result (like a model that
        repeats what the tool said)."""
        tool.stage = "done"
        if answers:
            said = ", ".join(f'"{q}"="{a}"' for q, a in answers.items())
            content = (
                f"Your questions have been answered: {said}. "
                "You can now continue with these answers in mind."
            )
            response = {**tool.input, "answers": answers}
            fields = {**tool.fields(), "tool_response": response, "tool_use_id": tool.use_id}
            self.hooks.fire("PostToolUse", {**fields, "duration_ms": 1}, tool.name)
        else:
            content = refusal
        result = {"tool_use_id": tool.use_id, "type": "tool_result", "content": content}
        self.transcript.user([{**result, "is_error": not answers}])
        self.entries.append(("result", content))
        turn.answer = content
        turn.deadline = time.monotonic() + self.knobs.delay
        self.dirty = True

    def _shell(self, command: str) -> None:
        """`!` shell mode: the command runs at once, its output shows; no model turn."""
        try:
            done = subprocess.run(
                ["sh", "-c", command],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                cwd=self.cwd,
                timeout=30,
                check=False,
            )
            output = (done.stdout + done.stderr).decode("utf-8", "replace").rstrip("\n")
        except (OSError, subprocess.TimeoutExpired) as exc:
            output = str(exc)
        self.entries += [("prompt", f"! {command}"), ("result", output or "(No content)")]
        self.log("shell", command=command)

    def _tool_timers(self, turn: Turn, tool: Tool, now: float) -> None:
        """Permission notification when due; completion once the command has exited."""
        if tool.stage == "permission" and tool.notify_at is not None and now >= tool.notify_at:
            tool.notify_at = None
            message = "Claude needs your permission to use Bash"
            fields = {"message": message, "notification_type": "permission_prompt"}
            self.hooks.fire("Notification", fields, "permission_prompt")
        if tool.stage == "running" and not tool.open_fds:
            assert tool.proc is not None
            if tool.proc.poll() is not None:
                self._tool_done(turn, tool)

    def _run_tool(self, turn: Turn, tool: Tool) -> None:
        """Start the command with sh; its output is read by the main loop."""
        tool.stage = "running"
        tool.notify_at = None
        tool.started = time.monotonic()
        self.dirty = True
        try:
            proc = subprocess.Popen(
                ["sh", "-c", tool.command],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=self.cwd,
                start_new_session=True,
            )
        except OSError as exc:
            proc = subprocess.Popen(["sh", "-c", 'echo "$0" >&2', str(exc)], stderr=subprocess.PIPE)
        tool.proc = proc
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                tool.output[pipe.fileno()] = bytearray()
                tool.open_fds.add(pipe.fileno())

    def _read_tool(self, tool: Tool, fd: int) -> None:
        """Collect a chunk of the command's stdout/stderr; EOF closes that stream."""
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if data:
            tool.output[fd] += data
        else:
            tool.open_fds.discard(fd)

    def _tool_done(self, turn: Turn, tool: Tool) -> None:
        """PostToolUse, the tool result in the transcript, then the answer is its stdout."""
        assert tool.proc is not None
        tool.stage = "done"
        proc = tool.proc
        out = _decoded(tool, proc.stdout)
        err = _decoded(tool, proc.stderr)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        response = {"stdout": out, "stderr": err, "interrupted": False}
        duration = int((time.monotonic() - tool.started) * 1000)
        fields = {**tool.fields(), "tool_response": response, "tool_use_id": tool.use_id}
        self.hooks.fire("PostToolUse", {**fields, "duration_ms": duration}, tool.name)
        content = "\n".join(part for part in (out, err) if part)
        result = {"tool_use_id": tool.use_id, "type": "tool_result", "content": content}
        self.transcript.user([{**result, "is_error": proc.returncode != 0}])
        self.entries.append(("result", content or "(No content)"))
        turn.answer = out or "(no output)"
        turn.deadline = time.monotonic() + self.knobs.delay

    def _deny_tool(self, turn: Turn, tool: Tool, message: str = REJECTED) -> None:
        """Refused by a hook: an error tool result; the turn goes on and its answer is the
        reason (like a model that repeats what the tool said)."""
        tool.stage = "done"
        result = {"tool_use_id": tool.use_id, "type": "tool_result", "content": message}
        self.transcript.user([{**result, "is_error": True}])
        self.entries.append(("info", f"Denied: {message}"))
        turn.answer = message
        turn.deadline = time.monotonic() + self.knobs.delay
        self.dirty = True

    # ---- session end --------------------------------------------------------------------

    def _clear(self) -> None:
        """/clear: SessionEnd(clear), a new session id, SessionStart(clear)."""
        self.hooks.fire("SessionEnd", {"reason": "clear"}, "clear")
        self._set_session(new_uuid())
        self.entries = [("prompt", "/clear")]  # as the real CLI: only the command stays
        self.source = "clear"
        self.log("start", source="clear")
        self.hooks.fire("SessionStart", {"source": "clear", "model": self.opts.model}, "clear")
        self._dequeue()

    def quit(self, reason: str, code: int, max_timeout: float | None = None) -> None:
        """Fire SessionEnd (if the session had started) and make the loop exit."""
        if self.exit_code is not None:
            return
        self.exit_code = code
        if self.phase == "ready":
            self.hooks.fire("SessionEnd", {"reason": reason}, reason, max_timeout)
        self.log("exit", reason=reason, code=code)


def _pick(key: Key, choice: int, count: int) -> int | None:
    """Which option of a numbered dialog a key picks: its digit, or Enter on the selection."""
    if key.kind == "text" and key.text[:1].isdigit() and 1 <= int(key.text[:1]) <= count:
        return int(key.text[:1]) - 1
    if key.kind == "enter":
        return choice
    return None


def _startup_dialogs(opts: Options, knobs: Knobs, skip_dangerous_prompt: bool) -> list[str]:
    """The dialogs the real CLI shows before its prompt, in its order."""
    kinds = []
    if knobs.trust_dialog:
        kinds.append("trust")
    if knobs.api_key_dialog:
        kinds.append("api_key")
    if opts.skip_permissions and not skip_dangerous_prompt:
        kinds.append("bypass")
    return kinds


DEFAULT_QUESTION = ("Color", "Which color should the button be?", ["Red", "Blue"])


def _ask_input(arg: str, multi_select: bool = False) -> dict[str, Any]:
    """AskUserQuestion input from `!ask [question | option | option ...]` (`!ask+`: several
    options may be picked)."""
    parts = [p.strip() for p in arg.split("|") if p.strip()]
    header, question, options = DEFAULT_QUESTION
    if len(parts) >= 3:
        header, question, options = "Question", parts[0], parts[1:]
    entry = {
        "question": question,
        "header": header,
        "options": [{"label": o, "description": ""} for o in options],
        "multiSelect": multi_select,
    }
    return {"questions": [entry]}


def _questions(tool_input: Any) -> list[tuple[str, str, list[str]]]:
    """(header, question, option labels) of an AskUserQuestion input."""
    found = []
    for entry in tool_input.get("questions", []) if isinstance(tool_input, dict) else []:
        labels = [str(o.get("label", "")) for o in entry.get("options", [])]
        found.append((str(entry.get("header", "")), str(entry.get("question", "")), labels))
    return found or [DEFAULT_QUESTION]


def _decoded(tool: Tool, pipe: Any) -> str:
    """A finished stream's text without its trailing newline(s)."""
    data = tool.output.get(pipe.fileno(), bytearray()) if pipe is not None else bytearray()
    return bytes(data).decode("utf-8", "replace").rstrip("\n")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill an interrupted command and everything it started."""
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def main(argv: list[str]) -> int:
    """Parse, check the session, run the UI; refusals print one line and exit 1."""
    try:
        app = App(parse_args(argv), Knobs(os.environ))
    except EarlyExitError as exc:
        (sys.stdout if exc.code == 0 else sys.stderr).write(exc.text)
        return exc.code
    return app.run()
