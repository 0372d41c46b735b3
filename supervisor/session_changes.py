"""One home for the rules of each change to the set of sessions: add, and remove (with
purge). Recover only exists live (live_sessions.py): with the supervisor down there is
nothing to restart.

The CLI's offline path (below) and the running supervisor (live_sessions.py, behind the
control API that `vai` and Discord's commands ask) use these same rules, so the two
cannot drift.

Removing a session forgets it: its journal (the Claude conversation id, the message in
flight), its hook spool, Claude settings and worker lock, and its unfinished messages in
the inbox. A channel that later gets the same number starts a new conversation and never
receives a message the removed channel left queued. `--purge` also deletes its
attachments and every log file (rotated ones too). Files a removal kept are set aside
(`removed/session_N-*/`) when the number is used again, so the new session starts empty.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import msgspec
import psutil

from vai.common.errors import BridgeError
from vai.common.tmux import kill_session, tmux_run
from vai.protocol.ids import valid_id
from vai.protocol.layout import Layout, tmux_session_name
from vai.protocol.session_settings import SessionSettings
from vai.supervisor.config import Config
from vai.supervisor.inbox import Inbox
from vai.supervisor.interfaces import Changed
from vai.supervisor.operator_stops import mark_stopped
from vai.supervisor.sessions_file import (
    load_entries,
    load_sessions,
    next_session_number,
    save_entries,
)
from vai.supervisor.work_dirs import bridge_dirs, confined_work_dir, operator_work_dir, roots_of

# -- the rules, shared by both paths ---------------------------------------------------------


def number_for(sessions: Mapping[int, int], channel_id: int) -> int:
    """The number a new channel gets (the lowest free one); BridgeError if it cannot."""
    if not valid_id(channel_id):
        raise BridgeError(f"invalid channel id {channel_id} (1 .. 2**63 - 1)")
    for session, channel in sessions.items():
        if channel == channel_id:
            raise BridgeError(f"channel {channel_id} is already session {session}")
    return next_session_number(dict(sessions))


def settle_settings(
    config: Config,
    channel_id: int,
    asked: SessionSettings | None,
    *,
    confined: bool,
    create: bool = True,
) -> SessionSettings:
    """The record a new session gets: its work dir checked (and, from Discord, confined to
    the roots and made there when missing, with `create`); "" when it is the global work
    dir."""
    settings = msgspec.structs.replace(
        asked or SessionSettings(channel_id=channel_id), channel_id=channel_id
    )
    if confined:
        inside, at = bridge_dirs(config.layout)
        work_dir = confined_work_dir(
            settings.work_dir, roots_of(config), inside, create=create, not_at=at
        )
    elif settings.work_dir:
        work_dir = operator_work_dir(settings.work_dir)
    else:
        return settings
    same = work_dir == Path(os.path.realpath(config.claude_work_dir))
    return msgspec.structs.replace(settings, work_dir="" if same else str(work_dir))


def session_logs(layout: Layout, session: int) -> list[Path]:
    """`logs/session_N.log` and its rotated copies (`session_N.log.1`, ...)."""
    log = layout.session_log(session)
    return sorted(
        path
        for path in log.parent.glob(f"{log.name}*")
        if path.name == log.name or path.name.startswith(f"{log.name}.")
    )


def forget_files(layout: Layout, session: int) -> None:
    """The session's journal (and a corrupt one set aside), its run/session-N/ folder
    (hook socket, spool, Claude settings, key: a reused number gets a new key), the
    copies of files its pane posted, and its worker lock."""
    journal = layout.session_state(session)
    for path in (
        journal,
        journal.with_suffix(".corrupt"),
        *journal.parent.glob(f".{journal.name}.*"),  # a save cut short
    ):
        path.unlink(missing_ok=True)
    shutil.rmtree(layout.session_run_dir(session), ignore_errors=True)
    shutil.rmtree(layout.outgoing_dir(session), ignore_errors=True)
    _unlink_unless_locked(layout.worker_lock(session))


def _unlink_unless_locked(path: Path) -> None:
    """A lock a live worker holds stays: its successor must still find and end it."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        path.unlink(missing_ok=True)
    except BlockingIOError:
        pass
    finally:
        os.close(fd)


def claude_processes(tmux_socket: str, session: int) -> list[psutil.Process]:
    """The session's Claude pane: its process and every descendant, now."""
    target = f"={tmux_session_name(session)}:"
    done = tmux_run(tmux_socket, "display-message", "-p", "-t", target, "#{pane_pid}")
    if done.returncode != 0 or not done.stdout.strip().isdigit():
        return []
    try:
        root = psutil.Process(int(done.stdout.strip()))
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def end_claude(config: Config, session: int, processes: list[psutil.Process]) -> None:
    """End the session's tmux session and wait for Claude's `processes` to be gone, so
    nothing it runs on its way out (its hooks, which spool when no worker listens)
    writes after the session is forgotten. Blocking: async callers use a thread."""
    if shutil.which("tmux"):
        kill_session(config.tmux_socket, config.layout.run_dir, tmux_session_name(session))
    _, alive = psutil.wait_procs(processes, timeout=config.file.supervisor.stop_grace)
    for process in alive:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(alive, timeout=1.0)


def purge_files(layout: Layout, session: int) -> None:
    """--purge: the attachments and every log of the session."""
    shutil.rmtree(layout.session_attachments(session), ignore_errors=True)
    for path in session_logs(layout, session):
        path.unlink(missing_ok=True)


def prepare_number(layout: Layout, session: int) -> Path | None:
    """Before a number is used (again): what a removed session kept goes aside, whatever
    it left is forgotten, and the attachments directory exists, private. Returns where
    the kept files went, if anywhere."""
    attachments = layout.session_attachments(session)
    kept = attachments.is_dir() and any(attachments.iterdir())
    logs = session_logs(layout, session)
    aside = None
    if kept or logs:
        layout.removed_dir().mkdir(mode=0o700, parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = Path(
            tempfile.mkdtemp(prefix=f"session_{session}-{stamp}-", dir=layout.removed_dir())
        )
        if kept:
            os.replace(attachments, aside / "attachments")
        if logs:
            (aside / "logs").mkdir(mode=0o700)
            for path in logs:
                os.replace(path, aside / "logs" / path.name)
    forget_files(layout, session)
    attachments.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    attachments.mkdir(mode=0o700, exist_ok=True)
    return aside


def added_text(session: int, aside: Path | None, note: str = "") -> str:
    text = f"Success: Session {session} added{note}"
    if aside is not None:
        text += f"\nthe files kept from an earlier session {session} are now in {aside}"
    return text


def removed_text(
    session: int,
    purge: bool,
    settings: SessionSettings | None = None,
    threads: Mapping[int, SessionSettings] | None = None,
    notes: Iterable[str] = (),
) -> str:
    kept = "" if purge else " (attachments and log kept)"
    text = f"Session {session} removed{kept}"
    if settings is not None and settings.worktree:
        text += f"; its git worktree stays at {settings.worktree}"
    if threads:
        numbers = ", ".join(str(number) for number in sorted(threads))
        text += f"; its thread session(s) {numbers} too"
    return "; ".join([text, *(note for note in notes if note)])


# -- with the supervisor down (the CLI) --------------------------------------------------------


def forget_offline(layout: Layout, session: int, channel_id: int) -> None:
    """The inbox's part of forgetting, with no supervisor holding the inbox open."""
    if not layout.inbox_db.exists():
        return
    inbox = Inbox(layout.inbox_db)
    try:
        inbox.forget_session(session, channel_id)
    finally:
        inbox.close()


def add_offline(config: Config, channel_id: int, asked: SessionSettings | None = None) -> Changed:
    layout = config.layout
    entries = load_entries(layout.sessions_file, config.encryption_key)
    number = number_for({n: e.channel_id for n, e in entries.items()}, channel_id)
    settings = settle_settings(config, channel_id, asked, confined=False)
    layout.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    aside = prepare_number(layout, number)
    # Whatever an interrupted removal left under this number or this channel goes too.
    forget_offline(layout, number, channel_id)
    save_entries(layout.sessions_file, {**entries, number: settings}, config.encryption_key)
    note = " (the supervisor is not running: `vai start`)"
    return Changed(number, added_text(number, aside, note))


def remove_offline(config: Config, session: int, purge: bool) -> Changed:
    """As live: the channel's thread sessions go too (their worktrees stay: the
    supervisor's `remove_worktrees` rule runs only live)."""
    layout = config.layout
    entries = load_entries(layout.sessions_file, config.encryption_key)
    if session not in entries:
        raise BridgeError(f"no session {session}")
    removed = entries.pop(session)
    threads = {
        n: s
        for n, s in entries.items()
        if s.is_thread and s.parent_channel_id == removed.channel_id
    }
    for number in threads:
        del entries[number]
    save_entries(layout.sessions_file, entries, config.encryption_key)
    for number, settings in {session: removed, **threads}.items():
        end_claude(config, number, claude_processes(config.tmux_socket, number))
        forget_files(layout, number)
        forget_offline(layout, number, settings.channel_id)
        mark_stopped(layout, number, False)
        if purge:
            purge_files(layout, number)
    return Changed(session, removed_text(session, purge, removed, threads))


def hold_offline(config: Config, session: int, stopped: bool) -> Changed:
    """`vai stop-session N` / `start-session N` with the supervisor down: what it finds
    at its next start."""
    layout = config.layout
    if session not in load_sessions(layout.sessions_file, config.encryption_key):
        raise BridgeError(f"no session {session}")
    changed = mark_stopped(layout, session, stopped)
    if stopped:
        end_claude(config, session, claude_processes(config.tmux_socket, session))
    verb = "stays stopped" if stopped else "starts"
    already = "" if changed else f" (it was already {'stopped' if stopped else 'not stopped'})"
    return Changed(
        session, f"Session {session} {verb} when the supervisor starts (`vai start`){already}"
    )
