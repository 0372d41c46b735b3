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
from .hooks import HookRunner, decision, load_settings
from .keys import Key, KeyParser
from .store import INTERRUPTED, Entry, Transcript, is_uuid, new_uuid, project_dir
from .term import Terminal

EXIT_COMMANDS = ("exit", "quit")
CLEAR_COMMANDS = ("clear", "reset", "new")
VERBS = ("Thinking", "Pondering", "Cogitating", "Noodling", "Brewing")
REJECTED = "The user doesn't want to proceed with this tool use. The tool use was rejected."
SIGNAL_HOOK_TIMEOUT = 1.5
ANIMATION = 0.25


class InputBox:
    """The prompt box: typed characters and pasted blocks, as (shown, submitted) parts."""

    def __init__(self) -> None:
        self.parts: list[tuple[str, str]] = []
        self.pastes = 0

    def type(self, text: str) -> None:
        """Insert typed text, one part per character so Backspace removes one."""
        self.parts.extend((char, char) for char in text)

    def paste(self, text: str) -> None:
        """Insert a paste; one of more than 2 lines (or 800 chars) shows as a reference."""
        newlines = text.count("\n")
        if newlines < 2 and len(text) <= 800:
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
        text = "".join(real for _, real in self.parts)
        self.parts, self.pastes = [], 0
        return text

    def shown(self) -> str:
        """What the box displays."""
        return "".join(shown for shown, _ in self.parts)


class Tool:
    """The Bash tool call of a turn, from its permission dialog to its output."""

    def __init__(self, command: str) -> None:
        self.command = command
        self.use_id = "toolu_" + new_uuid().replace("-", "")[:24]
        self.stage = "pending"
        self.notify_at: float | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.output: dict[int, bytearray] = {}
        self.open_fds: set[int] = set()
        self.started = 0.0

    def fields(self) -> dict[str, Any]:
        """The tool fields shared by PreToolUse, PermissionRequest and PostToolUse."""
        return {"tool_name": "Bash", "tool_input": {"command": self.command}}


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
        self.transcript = Transcript(self.home, self.cwd, "", opts.model)
        self.source = self._pick_session()
        self.entries: list[Entry] = self.transcript.load() if self.source == "resume" else []
        self.phase = "starting"
        self.turn: Turn | None = None
        self.queue: list[str] = []
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
        try:
            ready = select.select([0, wake_r, *tool_fds], [], [], self._timeout())[0]
        except (OSError, ValueError):
            ready = []
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
            if self.phase == "trust":
                self._trust_key(key)
            elif tool is not None and tool.stage == "permission":
                self._permission_key(key)
            else:
                self._box_key(key, now)

    def _timers(self, now: float) -> None:
        """Fire whatever is due: readiness, a lone Escape, answers, notifications."""
        if self.phase == "starting" and now >= self.ready_at:
            self.dirty = True
            if self.knobs.trust_dialog:
                self.phase = "trust"
            else:
                self._become_ready()
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

    def _become_ready(self) -> None:
        """SessionStart, then the prompt is live; an initial prompt argument is submitted."""
        self.phase = "ready"
        self.hooks.fire(
            "SessionStart", {"source": self.source, "model": self.opts.model}, self.source
        )
        if self.opts.prompt:
            self._submit(self.opts.prompt)

    # ---- drawing ------------------------------------------------------------------------

    def paint(self) -> None:
        """Redraw the whole screen from the state."""
        self.dirty = False
        rows, cols = self.term.size()
        cursor: tuple[int, int] | None = None
        if self.phase == "trust":
            lines = screen.trust_dialog(self.cwd, self.choice, cols)
        else:
            lines = screen.header(self.opts.model, self.mode, self.cwd)
            lines += screen.entry_lines(self.entries, cols)
            if self.phase == "ready":
                bottom, box_end = self._bottom(cols)
                if box_end is not None:
                    cursor = (len(lines) + box_end, screen.width(bottom[box_end]))
                lines += bottom
        self.term.write(screen.paint(lines, rows, cols, cursor))

    def _bottom(self, cols: int) -> tuple[list[str], int | None]:
        """Spinner, queue, input box and footer, or the permission dialog in their place."""
        turn = self.turn
        tool = turn.tool if turn else None
        out = [""]
        if tool is not None and tool.stage == "permission":
            return out + screen.permission_dialog(tool.command, self.choice, cols), None
        if turn is not None:
            out.append(screen.spinner(time.monotonic() - turn.started, turn.verb))
        for text in self.queue:
            out.append("  Queued · " + screen.clean(text.strip().split("\n")[0]))
        out.append(screen.rule(cols))
        out += screen.block(screen.PROMPT_MARK, "  ", self.box.shown(), cols)
        box_end = len(out) - 1
        if self.hint_until is not None:
            footer = "  Press Ctrl-C again to exit"
        else:
            footer = screen.BUSY_FOOTER if turn is not None else screen.IDLE_FOOTER
        return [*out, screen.rule(cols), footer], box_end

    # ---- keys ---------------------------------------------------------------------------

    def _box_key(self, key: Key, now: float) -> None:
        """Edit the prompt box; Enter submits (or queues while busy), Escape interrupts."""
        kind = key.kind
        if kind in ("text", "paste", "newline"):
            if kind == "paste":
                self.box.paste(key.text)
            else:
                self.box.type(key.text if kind == "text" else "\n")
            self.last_text_at = now
        elif kind == "backspace":
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
        text = self.box.take()
        if not text.strip():
            return
        if self.turn is not None:
            self.queue.append(text)
        else:
            self._submit(text)

    def _trust_key(self, key: Key) -> None:
        """Folder trust dialog: 1/Enter on Yes accepts, 2/Escape/Enter on No exits 1."""
        pick = _pick(key, self.choice)
        if pick == 0:
            self.choice = 0
            self._become_ready()
        elif pick == 1:
            self.exit_code = 1
        elif key.kind in ("up", "down"):
            self.choice = 1 - self.choice

    def _permission_key(self, key: Key) -> None:
        """Bash permission dialog: 1/Enter on Yes allows, 2/Escape denies, Ctrl-C cancels."""
        turn = self.turn
        assert turn is not None and turn.tool is not None
        pick = _pick(key, self.choice)
        if key.kind == "ctrl_c":
            self._interrupt()
        elif pick is not None:
            self.choice = 0
            if pick == 0:
                self._run_tool(turn, turn.tool)
            else:
                self._deny_tool(turn, turn.tool)
        elif key.kind in ("up", "down"):
            self.choice = 1 - self.choice

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
        self.entries.append(("prompt", text))
        self.log("prompt", prompt=text, prompt_id=turn.prompt_id)
        self.paint()
        fields = {"prompt": text, "prompt_id": turn.prompt_id, "permission_mode": self.mode}
        self.hooks.fire("UserPromptSubmit", fields)
        self.transcript.user(text)
        self._plan(turn)

    def _plan(self, turn: Turn) -> None:
        """The scripted answer: !sleep N, !bash CMD, !crash, !long N, else an echo."""
        word, _, arg = turn.prompt.strip().partition(" ")
        arg = arg.strip()
        if word == "!crash":
            os._exit(3)
        if word == "!bash" and arg:
            self._start_tool(turn, Tool(arg))
            return
        wait = self.knobs.delay
        nap = seconds(arg) if word == "!sleep" else None
        if nap is not None:
            turn.answer, wait = f"slept {arg}", nap
        elif word == "!long" and arg.isdigit():
            turn.answer = long_answer(int(arg))
        else:
            turn.answer = "echo: " + turn.prompt
        turn.deadline = time.monotonic() + wait

    def _finish(self, turn: Turn) -> None:
        """The answer is ready: show it, write it, then fire Stop (transcript first)."""
        turn.deadline = None
        self.entries.append(("answer", turn.answer))
        self.transcript.assistant({"type": "text", "text": turn.answer})
        self.paint()
        fields = {"stop_hook_active": False, "last_assistant_message": turn.answer}
        self.log("stop", prompt_id=turn.prompt_id)  # when Stop fires, for latency benchmarks
        self.hooks.fire("Stop", {**fields, "prompt_id": turn.prompt_id})
        self._end_turn(turn, interrupted=False)

    def _interrupt(self) -> None:
        """Escape/Ctrl-C while busy: stop the turn; no Stop hook (as the real CLI)."""
        turn = self.turn
        assert turn is not None
        tool = turn.tool
        if tool is not None and tool.proc is not None and tool.proc.poll() is None:
            _kill_group(tool.proc)
        marker = INTERRUPTED + (" for tool use" if tool is not None else "")
        self.transcript.user([{"type": "text", "text": marker}])
        self.entries.append(("interrupted", ""))
        self._end_turn(turn, interrupted=True)

    def _end_turn(self, turn: Turn, interrupted: bool) -> None:
        """Back to idle; queued prompts go on (or back into the box after an interrupt)."""
        self.turn = None
        self.dirty = True
        self.log("turn_end", prompt_id=turn.prompt_id, answer=turn.answer, interrupted=interrupted)
        if self.knobs.idle_notify:
            self.idle_notify_at = time.monotonic() + self.knobs.idle_notify
        if interrupted:
            self._queue_back_to_box()
        else:
            self._dequeue()

    def _queue_back_to_box(self) -> None:
        """After an interrupt, queued prompts return to the box for editing (not sent);
        whatever was typed meanwhile stays after them."""
        if self.queue:
            typed = self.box.parts
            self.box.parts = []
            self.box.type("\n".join(self.queue))
            self.box.parts += typed
            self.queue = []

    def _dequeue(self) -> None:
        """Submit the next queued prompt, like the real CLI does when a turn ends."""
        if self.queue and self.turn is None and self.exit_code is None:
            self._submit(self.queue.pop(0))

    # ---- the Bash tool ------------------------------------------------------------------

    def _start_tool(self, turn: Turn, tool: Tool) -> None:
        """Tool call: transcript, PreToolUse, then permission (hook, dialog) or run."""
        turn.tool = tool
        self.entries.append(("tool", f"Bash({tool.command})"))
        block = {"type": "tool_use", "id": tool.use_id, "name": "Bash"}
        self.transcript.assistant({**block, "input": {"command": tool.command}}, "tool_use")
        fields = {**tool.fields(), "tool_use_id": tool.use_id}
        verdict = decision(self.hooks.fire("PreToolUse", fields, "Bash"), "PreToolUse")
        if verdict is None and self.mode != "bypassPermissions":
            verdict = "ask"
        if verdict == "ask":
            fields = {**tool.fields(), "permission_mode": self.mode}
            outputs = self.hooks.fire("PermissionRequest", fields, "Bash")
            verdict = decision(outputs, "PermissionRequest") or "ask"
        if verdict == "deny":
            self._deny_tool(turn, tool)
        elif verdict == "ask":
            tool.stage = "permission"
            tool.notify_at = time.monotonic() + self.knobs.permission_notify
            self.choice = 0
            self.dirty = True
        else:
            self._run_tool(turn, tool)

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
        self.hooks.fire("PostToolUse", {**fields, "duration_ms": duration}, "Bash")
        content = "\n".join(part for part in (out, err) if part)
        result = {"tool_use_id": tool.use_id, "type": "tool_result", "content": content}
        self.transcript.user([{**result, "is_error": proc.returncode != 0}])
        self.entries.append(("result", content or "(No content)"))
        turn.answer = out or "(no output)"
        turn.deadline = time.monotonic() + self.knobs.delay

    def _deny_tool(self, turn: Turn, tool: Tool) -> None:
        """Permission refused: an error tool result, and the answer "denied"."""
        tool.stage = "done"
        result = {"tool_use_id": tool.use_id, "type": "tool_result", "content": REJECTED}
        self.transcript.user([{**result, "is_error": True}])
        self.entries.append(("info", "User rejected the Bash command"))
        turn.answer = "denied"
        turn.deadline = time.monotonic() + self.knobs.delay
        self.dirty = True

    # ---- session end --------------------------------------------------------------------

    def _clear(self) -> None:
        """/clear: SessionEnd(clear), a new session id, SessionStart(clear)."""
        self.hooks.fire("SessionEnd", {"reason": "clear"}, "clear")
        self._set_session(new_uuid())
        self.entries = []
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


def _pick(key: Key, choice: int) -> int | None:
    """Which option of a two-option dialog a key picks: "1", "2", Enter, or Escape (No)."""
    if key.kind == "text" and key.text[:1] in ("1", "2"):
        return int(key.text[0]) - 1
    if key.kind == "enter":
        return choice
    if key.kind == "escape":
        return 1
    return None


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
