"""Write vai.toml and .env for a new bridge, from flags or prompts.

Also sessions.json, when channels are given. Asks for what is not given when run in
a terminal: the bot token (not echoed) and up to three channel ids, one session each.
.env gets mode 0600. Existing files are never overwritten without --force. Without a
token the bridge runs the local demo Discord.
"""

from __future__ import annotations

import argparse
import getpass
import json
import shlex
import sys
from pathlib import Path

from vai.common.atomic import write_atomic
from vai.common.errors import BridgeError
from vai.common.exit_codes import EXIT_OK
from vai.supervisor.commands._common import Context
from vai.supervisor.config import home_from_env

MAX_CHANNELS = 3


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--token", help="the Discord bot token (prompted, hidden, if omitted)")
    parser.add_argument(
        "--channel",
        action="append",
        default=[],
        metavar="ID",
        help=f"a channel id for the next session (up to {MAX_CHANNELS})",
    )
    parser.add_argument("--work-dir", help="where Claude works (default: the current directory)")
    parser.add_argument("--claude-command", help="the command that starts Claude (default claude)")
    parser.add_argument(
        "--encrypt",
        action="store_true",
        help="generate ENCRYPTION_KEY: channel ids stored encrypted",
    )
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.add_argument("--no-input", action="store_true", help="never prompt")


def _channel(text: str) -> int:
    text = text.strip()
    if not text.isdigit() or int(text) <= 0:
        raise BridgeError(f"{text!r} is not a channel id (a number like 123456789012345678)")
    return int(text)


def _check_token(token: str) -> str:
    token = token.strip()
    if any(c.isspace() for c in token) or "=" in token or len(token) < 20:
        raise BridgeError("that does not look like a Discord bot token (Bot > Reset Token)")
    return token


def render_toml(work_dir: str, claude_command: str | None) -> str:
    lines = [
        "# claude-discord-bridge configuration (written by `vai init`).",
        "# Every setting and its default: deploy/vai.example.toml in the source tree.",
        "",
        "[claude]",
        f"work_dir = {json.dumps(work_dir)}",
    ]
    if claude_command:
        lines.append(f"command = {json.dumps(claude_command)}")
    return "\n".join(lines) + "\n"


def execute(args: argparse.Namespace, ctx: Context) -> int:
    home = home_from_env(ctx.environ)
    config_file, env_file, sessions_file = home / "vai.toml", home / ".env", home / "sessions.json"
    interactive = not args.no_input and sys.stdin.isatty()
    channels = [_channel(c) for c in args.channel]
    if len(channels) > MAX_CHANNELS:
        raise BridgeError(f"at most {MAX_CHANNELS} channels here; add more with `vai add-session`")
    if len(set(channels)) != len(channels):
        raise BridgeError("the same channel is given twice")
    targets = [config_file, env_file, *([sessions_file] if channels or interactive else [])]
    existing = [p for p in targets if p.exists()]
    if existing and not args.force:
        raise BridgeError(f"{existing[0]} exists; use --force to overwrite")

    token = args.token
    if token is None and interactive:
        token = getpass.getpass("Discord bot token (empty: the local demo Discord): ")
    token = _check_token(token) if token else ""
    if interactive and not args.channel:
        while len(channels) < MAX_CHANNELS:
            answer = input(f"Channel id for session {len(channels) + 1} (empty: done): ")
            if not answer.strip():
                break
            channels.append(_channel(answer))
    work_dir = str(Path(args.work_dir or Path.cwd()).expanduser().absolute())
    if args.claude_command:
        try:
            shlex.split(args.claude_command)
        except ValueError as exc:
            raise BridgeError(f"--claude-command: {exc}") from None

    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_atomic(config_file, render_toml(work_dir, args.claude_command).encode(), mode=0o600)
    secrets = ["# Secrets of claude-discord-bridge: keep this file mode 0600."]
    if token:
        secrets.append(f"DISCORD_BOT_TOKEN={token}")
    key = None
    if args.encrypt:
        from cryptography.fernet import Fernet

        key = Fernet.generate_key().decode()
        secrets.append(f"ENCRYPTION_KEY={key}")
    write_atomic(env_file, ("\n".join(secrets) + "\n").encode(), mode=0o600)
    written = [config_file, env_file]
    if channels:
        from vai.supervisor.sessions_file import save_sessions

        save_sessions(sessions_file, dict(enumerate(channels, start=1)), key)
        written.append(sessions_file)
    for path in written:
        print(f"wrote {path}")
    sessions = ", ".join(f"{n}: {c}" for n, c in enumerate(channels, start=1)) or "none yet"
    print(f"sessions: {sessions}; token: {'set' if token else 'none (local demo Discord)'}")
    print("next: `vai doctor` to check the machine, then `vai start`")
    return EXIT_OK
