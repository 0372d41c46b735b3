"""The session's tmux pane with Claude in it: create or adopt it, read it, type into it.

The pane belongs to the tmux server, not to this process, so a worker's death leaves
Claude running and the next worker adopts the same pane.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import msgspec

from vai.common.tmux import TmuxControl, TmuxError, tmux_lock, tmux_run
from vai.protocol.hooks import HOOK_EVENTS
from vai.protocol.layout import tmux_session_name
from vai.protocol.specs import WorkerSpec
from vai.worker.pane_command import pane_command
from vai.worker.prompt_input import pieces
from vai.worker.screen import Screen, read_screen
from vai.worker.session_files import SessionFiles
from vai.worker.session_state import SessionState
from vai.worker.transcript import has_conversation, transcript_path
from vai.worker.transcript_access import Owner

log = logging.getLogger("worker.pane")

PANE_WIDTH, PANE_HEIGHT = 200, 50
PIECE_ECHO_TIMEOUT = 1.0


class PaneInfo(msgspec.Struct, frozen=True):
    dead: bool
    pid: int | None


class ClaudePane:
    def __init__(self, spec: WorkerSpec, files: SessionFiles | None = None) -> None:
        self.spec = spec
        group = spec.claude_user.gid if spec.claude_user is not None else None
        python = spec.pane_python or sys.executable
        self.files = files or SessionFiles(spec.layout, spec.session, group, python)
        self.layout = spec.layout
        self.name = tmux_session_name(spec.session)
        self.target = f"={self.name}:"
        self.control = TmuxControl(spec.tmux_socket, self.name)
        self.opened = asyncio.Event()
        self._last_pid: int | None = None

    # -- lifecycle -------------------------------------------------------------------------

    async def open(self, state: SessionState) -> bool:
        """Adopt the session's tmux session, or create it with Claude. True if created."""
        created = False
        with tmux_lock(self.layout.run_dir):  # worker/tmux_control.py: tmux_lock says why
            if not self.exists():
                self._create(state)
                created = True
            await self.control.start()
        self.opened.set()
        return created

    def exists(self) -> bool:
        return tmux_run(self.spec.tmux_socket, "has-session", "-t", f"={self.name}").returncode == 0

    def _create(self, state: SessionState) -> None:
        """Create the session (and the tmux server, should it be gone: the supervisor starts
        it, but tmux 3.3a can crash). The caller holds tmux_lock, which also keeps workers
        from starting the server at once (concurrent server starts on one socket fail)."""
        done = self._new_session(self.claude_command_line(state))
        if done.returncode != 0:
            raise TmuxError(f"cannot create tmux session {self.name}: {done.stderr.strip()}")

    def _new_session(self, command: str) -> subprocess.CompletedProcess[str]:
        return tmux_run(
            self.spec.tmux_socket,
            "start-server", ";", "set-option", "-g", "exit-empty", "off", ";",
            "new-session", "-d", "-s", self.name,
            "-x", str(PANE_WIDTH), "-y", str(PANE_HEIGHT),
            "-c", self.spec.work_dir,
            "-e", f"VAI_SESSION={self.spec.session}",
            "-e", f"VAI_HOME={self.spec.home}",
            command,
            ";", "set-option", "-w", "-t", self.target, "remain-on-exit", "on",
        )  # fmt: skip

    async def respawn(self, state: SessionState) -> None:
        """Start Claude again in the same pane (it died), resuming its conversation."""
        command = self.claude_command_line(state)
        # tmux 3.3a keeps the pane's read offsets across a respawn; one that a control client
        # had not caught up with when the pane died points past the new pane's buffer and
        # the server crashes on its first output (input_parse). Turning output off for this
        # client drops its offsets, so the server re-bases them during the respawn itself.
        await self.control.command("refresh-client", "-f", "no-output")
        try:
            await self.control.command("respawn-pane", "-k", "-t", self.target, command)
        finally:
            with contextlib.suppress(TmuxError):
                await self.control.command("refresh-client", "-f", "!no-output")

    async def close(self, stop_claude: bool = False) -> None:
        with tmux_lock(self.layout.run_dir):
            if stop_claude:
                try:
                    await self.control.command("kill-session", "-t", f"={self.name}")
                except TmuxError:
                    tmux_run(self.spec.tmux_socket, "kill-session", "-t", f"={self.name}")
            await self.control.close()

    # -- the command that starts Claude -------------------------------------------------------

    def claude_command_line(self, state: SessionState) -> str:
        """`claude --settings F` plus `--resume ID` when the conversation exists, else a new one.

        The conversation id lives in the session's journal (a new one is set in `state`
        for the caller to save), so a Claude that dies, or a whole machine that restarts,
        continues the same conversation.
        """
        if not state.conversation_id:
            state.conversation_id = str(uuid.uuid4())
        args = [*self.spec.claude_command, "--settings", str(self.write_settings())]
        transcript = self.transcript(state)
        if transcript.exists() and not has_conversation(transcript, self.owner):
            # Claude died before it saved anything of this conversation: it cannot be
            # resumed (and its id is taken), so a new one starts.
            log.warning("conversation %s was never saved: a new one starts", state.conversation_id)
            state.conversation_id = str(uuid.uuid4())
            state.transcript_path = ""
        if self.transcript(state).exists():
            args += ["--resume", state.conversation_id]
        else:
            args += ["--session-id", state.conversation_id]
        user = self.spec.claude_user
        spec = self.spec
        root = os.geteuid() == 0
        return pane_command(args, user, env=spec.pane_env, unset=spec.pane_env_unset, root=root)

    @property
    def owner(self) -> Owner | None:
        """Claude's own user, whose files its transcripts must be (None: the bridge's)."""
        user = self.spec.claude_user
        if user is None:
            return None
        return Owner(uid=user.uid, gid=user.gid, python=self.spec.pane_python or sys.executable)

    @property
    def claude_home(self) -> Path:
        """Claude's HOME: its own user's, or (without one) the bridge's."""
        user = self.spec.claude_user
        return Path(user.home) if user is not None else Path.home()

    def transcript(self, state: SessionState) -> Path:
        if state.transcript_path:
            return Path(state.transcript_path)
        return transcript_path(self.claude_home, self.spec.work_dir, state.conversation_id)

    def write_settings(self) -> Path:
        """Claude settings that route every hook event to this session's worker, and, with
        `[claude] report_cost`, its statusLine JSON (cost, context window) too
        (worker/hook_client.py: the operator's own status line is still shown)."""
        python = self.spec.pane_python or sys.executable
        client = self.layout.hook_client(self.spec.session)
        folder = self.layout.session_run_dir(self.spec.session)
        command = shlex.join([python, "-I", "-S", str(client), str(folder)])
        hook = [{"hooks": [{"type": "command", "command": command, "timeout": 600}]}]
        settings: dict[str, object] = {"hooks": {event: hook for event in HOOK_EVENTS}}
        if self.spec.status_line:
            settings["statusLine"] = {"type": "command", "command": f"{command} status"}
        return self.files.write_settings(json.dumps(settings, indent=2).encode())

    # -- reading -----------------------------------------------------------------------------

    async def lines(self) -> list[str]:
        return await self.control.command("capture-pane", "-p", "-t", self.target)

    async def screen(self) -> Screen:
        return read_screen("\n".join(await self.lines()))

    async def info(self) -> PaneInfo:
        lines = await self.control.command(
            "display-message", "-p", "-t", self.target, "#{pane_dead} #{pane_pid}"
        )
        dead, _, pid = (lines[0] if lines else "1 ").partition(" ")
        return PaneInfo(dead=dead == "1", pid=int(pid) if pid.isdigit() else None)

    async def claude_pid(self) -> int | None:
        """Claude's process in the pane, which hook connections must descend from (waits
        for the pane to open; the last one seen if tmux does not answer now)."""
        try:
            await asyncio.wait_for(self.opened.wait(), self.spec.ready_timeout)
            self._last_pid = (await self.info()).pid or self._last_pid
        except (TimeoutError, TmuxError):
            pass
        return self._last_pid

    async def wait_screen(
        self, accept: Callable[[Screen], bool], timeout: float, recheck: float = 0.25
    ) -> Screen | None:
        """Wait for a screen `accept` likes; woken by pane output, re-checked now and then."""
        deadline = time.monotonic() + timeout
        while True:
            self.control.changed.clear()
            screen = await self.screen()
            if accept(screen):
                return screen
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.control.changed.wait(), min(recheck, remaining))

    # -- typing ------------------------------------------------------------------------------

    async def paste(self, text: str, pace: float = 0.0) -> None:
        """Put exact text in the box: bracketed pastes small enough to stay verbatim, each
        sent once the pane redrew for the one before (worker/prompt_input.py says why).

        The bytes are those of `paste-buffer -p` (markers, LF as CR), sent as raw keys:
        tmux 3.3a's paste-buffer writes to a pane that has just died (remain-on-exit)
        through a NULL bufferevent and the server crashes; send-keys skips a dead pane."""
        for piece in pieces(text):
            seq = self.control.output_seq
            data = b"\033[200~" + piece.encode().replace(b"\n", b"\r") + b"\033[201~"
            await self.control.command("send-keys", "-t", self.target, "-H", *data.hex(" ").split())
            await self.control.wait_output(seq, PIECE_ECHO_TIMEOUT)
            if pace:
                await asyncio.sleep(pace)

    async def send_key(self, key: str) -> None:
        await self.control.command("send-keys", "-t", self.target, key)
