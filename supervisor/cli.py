"""`vai`: the operator's command line (SPEC section 3).

Expected failures print one line on stderr and exit non-zero; no tracebacks.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

import msgspec

from protocol.layout import tmux_session_name
from protocol.messages import (
    AddSession,
    ErrorReply,
    ListSessions,
    OkReply,
    RecoverSession,
    RemoveSession,
    SessionInfo,
    SessionsReply,
    StatusReply,
    StatusRequest,
    StopAll,
    WireMessage,
)
from supervisor.config import Config, load_config
from supervisor.control_client import SupervisorUnreachable, request
from supervisor.errors import BridgeError
from supervisor.sessions_file import load_sessions, next_session_number, save_sessions
from supervisor.status_view import (
    EXIT_UNREACHABLE,
    render_sessions,
    render_status,
    status_exit_code,
)

Handler = Callable[[argparse.Namespace, Config], int]


def _expect_ok(reply: WireMessage) -> OkReply:
    if isinstance(reply, ErrorReply):
        raise BridgeError(reply.text)
    if not isinstance(reply, OkReply):
        raise BridgeError(f"unexpected answer {type(reply).__name__}")
    return reply


def cmd_run(args: argparse.Namespace, config: Config) -> int:
    from supervisor.logs import setup_logging
    from supervisor.server import Supervisor

    setup_logging("supervisor")
    return asyncio.run(Supervisor(config).run())


def cmd_start(args: argparse.Namespace, config: Config) -> int:
    layout = config.layout
    layout.logs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        request(layout, StatusRequest(), timeout=1.0)
        print("the supervisor is already running")
        return 0
    except SupervisorUnreachable:
        pass
    log_path = layout.process_log("supervisor")
    with open(log_path, "ab") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "supervisor", "run"],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
        )
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BridgeError(f"the supervisor exited at start; see {log_path}")
        try:
            request(layout, StatusRequest(), timeout=0.5)
            print(f"supervisor started (pid {process.pid}); logs in {layout.logs_dir}")
            return 0
        except SupervisorUnreachable:
            time.sleep(0.1)
    raise BridgeError(f"the supervisor did not answer within {args.timeout:.0f}s; see {log_path}")


def cmd_stop(args: argparse.Namespace, config: Config) -> int:
    layout = config.layout
    try:
        _expect_ok(request(layout, StopAll(), timeout=args.timeout))
    except SupervisorUnreachable:
        print("the supervisor is not running")
        return 0
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline and layout.pid_file.exists():
        time.sleep(0.05)
    if layout.pid_file.exists():
        raise BridgeError(f"the supervisor did not stop within {args.timeout:.0f}s")
    print("stopped")
    return 0


def cmd_status(args: argparse.Namespace, config: Config) -> int:
    try:
        reply = request(config.layout, StatusRequest(), timeout=args.timeout)
    except SupervisorUnreachable as exc:
        if args.json:
            print(msgspec.json.encode({"supervisor": "unreachable", "error": str(exc)}).decode())
        else:
            print(f"vai: {exc}", file=sys.stderr)
        return EXIT_UNREACHABLE
    if not isinstance(reply, StatusReply):
        raise BridgeError(f"unexpected answer {type(reply).__name__}")
    if args.json:
        print(msgspec.json.encode(reply).decode())
    else:
        print(render_status(reply))
    return status_exit_code(reply)


def cmd_add_session(args: argparse.Namespace, config: Config) -> int:
    try:
        reply = _expect_ok(request(config.layout, AddSession(channel_id=args.channel_id), 40.0))
        print(reply.text)
        return 0
    except SupervisorUnreachable:
        pass
    sessions = load_sessions(config.layout.sessions_file, config.encryption_key)
    if args.channel_id in sessions.values():
        raise BridgeError(f"channel {args.channel_id} already has a session")
    number = next_session_number(sessions)
    save_sessions(
        config.layout.sessions_file, {**sessions, number: args.channel_id}, config.encryption_key
    )
    config.layout.session_attachments(number).mkdir(mode=0o700, parents=True, exist_ok=True)
    print(f"Success: Session {number} added (it starts with the supervisor: `vai start`)")
    return 0


def cmd_remove_session(args: argparse.Namespace, config: Config) -> int:
    try:
        reply = _expect_ok(
            request(config.layout, RemoveSession(session=args.session, purge=args.purge), 30.0)
        )
        print(reply.text)
        return 0
    except SupervisorUnreachable:
        pass
    sessions = load_sessions(config.layout.sessions_file, config.encryption_key)
    if args.session not in sessions:
        raise BridgeError(f"no session {args.session}")
    del sessions[args.session]
    save_sessions(config.layout.sessions_file, sessions, config.encryption_key)
    print(f"Session {args.session} removed")
    return 0


def cmd_list_sessions(args: argparse.Namespace, config: Config) -> int:
    try:
        reply = request(config.layout, ListSessions(), timeout=2.0)
        if not isinstance(reply, SessionsReply):
            raise BridgeError(f"unexpected answer {type(reply).__name__}")
        infos = reply.sessions
    except SupervisorUnreachable:
        sessions = load_sessions(config.layout.sessions_file, config.encryption_key)
        infos = [
            SessionInfo(session=s, channel_id=c, work_dir=config.claude_work_dir)
            for s, c in sorted(sessions.items())
        ]
    print(render_sessions(infos))
    return 0


def cmd_recover(args: argparse.Namespace, config: Config) -> int:
    print(_expect_ok(request(config.layout, RecoverSession(session=args.session))).text)
    return 0


def cmd_tail(args: argparse.Namespace, config: Config) -> int:
    layout = config.layout
    name = args.target if args.target in ("gateway", "supervisor") else None
    if name is None and not args.target.isdigit():
        raise BridgeError(
            f"tail what? {args.target!r} is not a session number, gateway or supervisor"
        )
    path = layout.process_log(name) if name else layout.session_log(int(args.target))
    if not path.exists():
        raise BridgeError(f"no log yet at {path}")
    argv = ["tail", "-n", str(args.lines), *(["-F"] if args.follow else []), str(path)]
    return subprocess.call(argv)


def cmd_attach(args: argparse.Namespace, config: Config) -> int:
    name = tmux_session_name(args.session)
    os.execvp("tmux", ["tmux", "-L", config.tmux_socket, "attach-session", "-t", f"={name}"])


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vai", description="Run many Claude Code sessions from Discord, one per channel."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.set_defaults(handler=handler)
        return command

    add("run", cmd_run, "run the supervisor in the foreground (systemd ExecStart)")
    start = add("start", cmd_start, "start the supervisor in the background")
    start.add_argument("--timeout", type=float, default=30.0)
    stop = add("stop", cmd_stop, "stop the supervisor, its workers and their Claude sessions")
    stop.add_argument("--timeout", type=float, default=30.0)
    status = add(
        "status", cmd_status, "show every session's state (exit 0 all running, 3 not, 4 down)"
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--timeout", type=float, default=5.0)
    add_session = add("add-session", cmd_add_session, "add a session for a Discord channel, live")
    add_session.add_argument("channel_id", type=int)
    remove = add("remove-session", cmd_remove_session, "stop and remove a session")
    remove.add_argument("session", type=int)
    remove.add_argument("--purge", action="store_true", help="also delete its attachments and log")
    add("list-sessions", cmd_list_sessions, "list sessions: number, channel, work dir")
    recover = add("recover", cmd_recover, "restart a session now; clears FATAL")
    recover.add_argument("session", type=int)
    tail = add("tail", cmd_tail, "show a log: a session number, gateway or supervisor")
    tail.add_argument("target")
    tail.add_argument("-f", "--follow", action="store_true")
    tail.add_argument("-n", "--lines", type=int, default=50)
    attach = add("attach", cmd_attach, "attach your terminal to a session's Claude pane")
    attach.add_argument("session", type=int)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config()
        handler: Handler = args.handler
        return handler(args, config)
    except BridgeError as exc:
        print(f"vai: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
