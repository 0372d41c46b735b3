"""Write vai.toml and .env for a new bridge, from flags or prompts.

Also sessions.json, when channels are given. Asks for what is not given when run in
a terminal: the bot token (not echoed), the owner's Discord user id and channel ids, one
session each, as many as you like (an empty line ends the list); a typo is explained and
asked again. .env gets mode 0600. Existing files are never overwritten without --force;
with --force, what .env held (the saved token, ENCRYPTION_KEY, anything else) is kept
unless replaced. Without a token the bridge runs the local demo Discord.

Access is closed by default: the owners (`owners` in vai.toml; none given: the bot
application's owner, as Discord reports it) may talk to Claude, and nobody else until
allow lists say so.

The token is never an argument (argv lands in shell history and in `ps` for everyone):
it comes from --token-stdin (`vai init --token-stdin < token.txt`), from
DISCORD_BOT_TOKEN in the environment, or from the hidden prompt.

`--claude-user NAME` runs Claude as its own OS user (`vai-claude`, or `vai-claude-{session}`
for one per session), so it cannot read the token or the bridge's files: as root, init
creates the users of the sessions it writes and gives the work dir to their group.
Without it, Claude runs as the bridge's own user, and init says so.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shlex
import sys
from pathlib import Path

from vai.common.atomic import write_atomic
from vai.common.errors import BridgeError
from vai.common.exit_codes import EXIT_OK
from vai.protocol.ids import id_problem, parse_id
from vai.supervisor.commands._common import Context, channel_id, user_id
from vai.supervisor.config import home_from_env, user_name_problem

HOW_TO_FIND_YOUR_ID = (
    "your Discord user id: Settings > Advanced > Developer Mode on, then right-click your"
    " name > Copy User ID"
)


class _TokenInArgv(argparse.Action):
    """`--token T` is refused (exit 2): the token would be in shell history already."""

    def __call__(self, parser: argparse.ArgumentParser, *args: object, **kwargs: object) -> None:
        parser.error(
            "--token is not taken: a token on the command line lands in shell history and"
            " `ps`. Reset it (Discord developer portal > Bot > Reset Token), then give the new"
            " one with --token-stdin, DISCORD_BOT_TOKEN or the prompt"
        )


def setup(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--token-stdin",
        action="store_true",
        help="read the Discord bot token from stdin (else DISCORD_BOT_TOKEN, else a hidden"
        " prompt in a terminal)",
    )
    parser.add_argument("--token", action=_TokenInArgv, help=argparse.SUPPRESS)
    parser.add_argument(
        "--channel",
        action="append",
        default=[],
        type=channel_id,
        metavar="ID",
        help="a channel id for the next session (repeat for more)",
    )
    parser.add_argument(
        "--owner",
        action="append",
        default=[],
        type=user_id,
        metavar="USER_ID",
        help=f"the bridge's owner, who may use it everywhere ({HOW_TO_FIND_YOUR_ID}); default:"
        " the bot application's owner",
    )
    parser.add_argument("--work-dir", help="where Claude works (default: the current directory)")
    parser.add_argument("--claude-command", help="the command that starts Claude (default claude)")
    parser.add_argument(
        "--encrypt",
        action="store_true",
        help="generate ENCRYPTION_KEY: channel ids stored encrypted",
    )
    parser.add_argument(
        "--claude-user",
        default="",
        metavar="NAME",
        help="run Claude as this OS user (vai-claude; vai-claude-{session}: one per session);"
        " as root, init creates it",
    )
    parser.add_argument(
        "--host",
        metavar="NAME",
        help="set this machine up as host agent NAME of a hub: its keypair (host.key) and"
        " [host] in vai.toml; prints the public key to register on the hub",
    )
    parser.add_argument("--hub", metavar="ENDPOINT", default="", help="with --host: tcp://HUB:7310")
    parser.add_argument("--hub-key", default="", help="with --host: the hub's public key")
    parser.add_argument("--force", action="store_true", help="overwrite existing files")
    parser.add_argument("--no-input", action="store_true", help="never prompt")


def _channel(text: str) -> int:
    number = parse_id(text)
    if number is None:
        raise BridgeError(f"{id_problem(text, 'channel id')} (a number like 123456789012345678)")
    return number


def _check_token(token: str) -> str:
    token = token.strip()
    if any(c.isspace() for c in token) or "=" in token or len(token) < 20:
        raise BridgeError("that does not look like a Discord bot token (Bot > Reset Token)")
    return token


def _read_token(args: argparse.Namespace, ctx: Context, interactive: bool, saved: str = "") -> str:
    """The token from stdin, the environment or the prompt ("" for the local demo; the
    saved one, with --force, when none is given)."""
    if args.token_stdin:
        # From a terminal, not echoed; from a pipe or file, its first line.
        terminal = sys.stdin.isatty()
        token = getpass.getpass("Discord bot token: ") if terminal else sys.stdin.readline()
        if not token.strip():
            raise BridgeError("--token-stdin: nothing on stdin")
        return _check_token(token)
    token = ctx.environ.get("DISCORD_BOT_TOKEN", "")
    if token.strip():
        return _check_token(token)
    if not interactive:
        return saved
    keep = " (empty: keep the saved one)" if saved else " (empty: the local demo Discord)"
    while True:
        token = getpass.getpass(f"Discord bot token{keep}: ")
        if not token.strip():
            return saved
        try:
            return _check_token(token)
        except BridgeError as exc:
            print(f"{exc}; try again", file=sys.stderr)


def _ask_channels(channels: list[int]) -> None:
    """Channel ids, one per line, until an empty one; a typo is asked again."""
    while True:
        answer = input(f"Channel id for session {len(channels) + 1} (empty: done): ")
        if not answer.strip():
            return
        try:
            number = _channel(answer.strip())
        except BridgeError as exc:
            print(f"{exc}; try again", file=sys.stderr)
            continue
        if number in channels:
            print(f"channel {number} is session {channels.index(number) + 1} already; try again",
                  file=sys.stderr)  # fmt: skip
            continue
        channels.append(number)


def _read_owners(given: list[int], interactive: bool) -> list[int]:
    if given or not interactive:
        return given
    print(f"The bridge's owner may talk to Claude everywhere; {HOW_TO_FIND_YOUR_ID}.")
    while True:
        answer = input("Owner's Discord user id (empty: the bot application's owner): ")
        if not answer.strip():
            return []
        number = parse_id(answer.strip())
        if number is not None:
            return [number]
        print(f"{id_problem(answer, 'user id')} (a number like 123456789012345678); try again",
              file=sys.stderr)  # fmt: skip


def render_toml(
    work_dir: str,
    claude_command: str | None,
    owners: list[int] | None = None,
    claude_user: str = "",
) -> str:
    lines = [
        "# claude-discord-bridge configuration (written by `vai init`).",
        "# Every setting and its default: deploy/vai.example.toml in the source tree.",
        "",
        "[discord]",
        "# Who may use the bridge everywhere; [] = the bot application's owner. Anyone else",
        "# needs allowed_users or allowed_roles.",
        f"owners = {json.dumps(owners or [])}",
        "",
        "[claude]",
        f"work_dir = {json.dumps(work_dir)}",
    ]
    if claude_command:
        lines.append(f"command = {json.dumps(claude_command)}")
    if claude_user:
        lines.append(f"user = {json.dumps(claude_user)}")
    return "\n".join(lines) + "\n"


def prepare_claude_users(template: str, sessions: list[int], work_dir: Path) -> list[str]:
    """As root: the Claude users of these sessions exist and share the work dir. What
    was done, for the operator."""
    from vai.supervisor import claude_users

    done: list[str] = []
    names = sorted({template.replace("{session}", str(n)) for n in sessions or [1]})
    if "{session}" in template and not sessions:
        names = []  # made when their sessions start
    group = claude_users.shared_group(template)
    for name in names:
        if claude_users.lookup(name) is None:
            claude_users.create_user(name, group)
            done.append(f"created user {name}")
    if claude_users.group_exists(group) and work_dir.is_dir():
        import grp

        os.chown(work_dir, -1, grp.getgrnam(group).gr_gid)
        os.chmod(work_dir, work_dir.stat().st_mode & 0o7777 | 0o2070)
        done.append(f"gave {work_dir} to group {group} (g+rwxs)")
    return done


def execute(args: argparse.Namespace, ctx: Context) -> int:
    home = home_from_env(ctx.environ)
    if args.host is not None:
        from vai.supervisor.hub.init_host import init_host

        work_dir = str(Path(args.work_dir or Path.cwd()).expanduser().absolute())
        for line in init_host(
            home,
            args.host,
            hub=args.hub,
            hub_public_key=args.hub_key,
            work_dir=work_dir,
            force=args.force,
        ):
            print(line)
        return EXIT_OK
    config_file, env_file, sessions_file = home / "vai.toml", home / ".env", home / "sessions.json"
    interactive = not args.no_input and sys.stdin.isatty()
    channels: list[int] = list(args.channel)
    if len(set(channels)) != len(channels):
        raise BridgeError("the same channel is given twice")
    targets = [config_file, env_file, *([sessions_file] if channels or interactive else [])]
    existing = [p for p in targets if p.exists()]
    if existing and not args.force:
        raise BridgeError(f"{existing[0]} exists; use --force to overwrite")

    from vai.supervisor.config import parse_env_file

    kept = parse_env_file(env_file) if args.force else {}  # what --force must not lose
    token = _read_token(args, ctx, interactive, kept.pop("DISCORD_BOT_TOKEN", ""))
    # The local demo's owner is its one local user: asked only with a real token.
    owners = _read_owners(list(dict.fromkeys(args.owner)), interactive and bool(token))
    if interactive and not args.channel:
        _ask_channels(channels)
    work_dir = str(Path(args.work_dir or Path.cwd()).expanduser().absolute())
    if args.claude_command:
        try:
            shlex.split(args.claude_command)
        except ValueError as exc:
            raise BridgeError(f"--claude-command: {exc}") from None
    claude_user = args.claude_user.strip()
    if problem := user_name_problem(claude_user):
        raise BridgeError(f"--claude-user: {problem}")

    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    if claude_user and os.geteuid() == 0:
        for line in prepare_claude_users(
            claude_user, list(range(1, len(channels) + 1)), Path(work_dir)
        ):
            print(line)
    config = render_toml(work_dir, args.claude_command, owners, claude_user)
    write_atomic(config_file, config.encode(), mode=0o600)
    secrets = ["# Secrets of claude-discord-bridge: keep this file mode 0600."]
    if token:
        secrets.append(f"DISCORD_BOT_TOKEN={token}")
    # A saved key stays: sessions.json and the inbox are encrypted with it.
    key = kept.pop("ENCRYPTION_KEY", None)
    if args.encrypt and not key:
        from cryptography.fernet import Fernet

        key = Fernet.generate_key().decode()
    if key:
        secrets.append(f"ENCRYPTION_KEY={key}")
    secrets += [f"{name}={value}" for name, value in kept.items()]
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
    who = ", ".join(map(str, owners)) or "the bot application's owner"
    print(f"owner: {who} (nobody else may use the bridge until allow lists say so)")
    if claude_user:
        print(f"Claude runs as {claude_user} (`vai doctor` checks what it can reach)")
        if os.geteuid() != 0:
            print("as root, `vai doctor --fix` creates missing users and shares the work dir")
    else:
        print(
            "warning: Claude runs as the bridge's own user and can read the bot token;"
            " --claude-user vai-claude isolates it (see `vai doctor`)"
        )
    print("next: `vai doctor` to check the machine, then `vai start`")
    return EXIT_OK
