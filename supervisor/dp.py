"""`dp`: post a message or a file to a session's Discord channel through the supervisor.

`dp "text"`, `dp 2 "text"`, `dp <channel id> "text"`, `dp 2 --file PATH`, or the text on
stdin. A target that is not one (`dp ² hi`, an id past 2**63 - 1) is a usage error (exit 2).

Inside a Claude pane (tmux's TMUX_PANE and the bridge's VAI_SESSION are set) this hands
over to the pane's own client, run/session-N/bin/dp (worker/pane_dp.py), which posts to
that session's channel only, through its worker; the operator's `dp` uses the control
socket.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from vai.common.errors import BridgeError
from vai.protocol.ids import id_problem, parse_id
from vai.protocol.layout import Layout
from vai.protocol.messages import ErrorReply, OkReply, PostMessage
from vai.supervisor.commands._common import running_supervisor_pid
from vai.supervisor.config import home_from_env, load_config
from vai.supervisor.control_client import SupervisorUnreachable, request

# Discord snowflakes have 17+ digits; session numbers are small.
SNOWFLAKE_MIN = 10**15


class UsageError(BridgeError):
    """Bad arguments: exit 2, like argparse."""


def looks_like_target(word: str) -> bool:
    """Digits of any script: meant as a session or channel, even if not a usable one."""
    return word.strip().isdigit()


def build_request(target: str | None, text: str, file_path: str | None) -> PostMessage:
    session: int | None = None
    channel: int | None = None
    if target is None:
        session = parse_id(os.environ.get("VAI_SESSION", "1")) or 1
    else:
        number = parse_id(target)
        if number is None:
            raise UsageError(id_problem(target, "session number or channel id"))
        if number >= SNOWFLAKE_MIN:
            channel = number
        else:
            session = number
    path = ""
    if file_path:
        resolved = Path(file_path).expanduser().absolute()
        if not resolved.is_file():
            raise BridgeError(f"no such file: {resolved}")
        try:
            str(resolved).encode("utf-8")
        except UnicodeEncodeError:
            raise BridgeError(
                f"the file name {str(resolved)!r} is not valid UTF-8: rename or copy it"
            ) from None
        path = str(resolved)
    return PostMessage(session=session, channel_id=channel, text=text, file_path=path)


def pane_client(environ: Mapping[str, str]) -> Path | None:
    """The pane's own `dp`, when this runs inside a Claude pane of the bridge."""
    session = parse_id(environ.get("VAI_SESSION", ""))
    if session is None or not environ.get("TMUX_PANE"):
        return None
    client = Layout(str(home_from_env(environ))).pane_dp(session)
    return client if os.access(client, os.X_OK) else None


def main(argv: Sequence[str] | None = None) -> int:
    client = pane_client(os.environ)
    if client is not None:
        os.execv(client, [str(client), *(sys.argv[1:] if argv is None else argv)])
    parser = argparse.ArgumentParser(
        prog="dp",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="exit codes: 0 posted (or queued), 1 failed, 2 bad usage, 4 supervisor down",
    )
    parser.add_argument("words", nargs="*", help="[session|channel id] message")
    parser.add_argument("--file", help="a file to upload")
    args = parser.parse_args(argv)
    words: list[str] = list(args.words)
    piped = not sys.stdin.isatty()
    # A leading number is the target when something else is the message: more words,
    # a file, or text on stdin (`echo hi | dp 2`).
    takes_target = len(words) > 1 or bool(args.file) or (len(words) == 1 and piped)
    target = words.pop(0) if words and looks_like_target(words[0]) and takes_target else None
    text = " ".join(words)
    try:
        if not text and not args.file and piped:
            text = sys.stdin.read()
        message = build_request(target, text, args.file)
        layout = load_config().layout
        if running_supervisor_pid(layout) is None:
            raise SupervisorUnreachable(
                f"the supervisor is not running for {layout.home} (start it: `vai start`)"
            )
        reply = request(layout, message, timeout=10.0)
        if isinstance(reply, ErrorReply):
            raise BridgeError(reply.text)
        if isinstance(reply, OkReply):
            print(reply.text)
        return 0
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"dp: error: {exc}", file=sys.stderr)
        return 2
    except SupervisorUnreachable as exc:
        print(f"dp: {exc}", file=sys.stderr)
        return 4
    except BridgeError as exc:
        print(f"dp: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
