"""`dp`: post a message or a file to a session's Discord channel through the supervisor.

`dp "text"`, `dp 2 "text"`, `dp <channel id> "text"`, `dp 2 --file PATH`, or the text on
stdin. Inside a Claude pane the session defaults to that pane's (VAI_SESSION).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from vai.common.errors import BridgeError
from vai.protocol.messages import ErrorReply, OkReply, PostMessage
from vai.supervisor.commands._common import running_supervisor_pid
from vai.supervisor.config import load_config
from vai.supervisor.control_client import SupervisorUnreachable, request

# Discord snowflakes have 17+ digits; session numbers are small.
SNOWFLAKE_MIN = 10**15


def build_request(target: str | None, text: str, file_path: str | None) -> PostMessage:
    session: int | None = None
    channel: int | None = None
    if target is None:
        inherited = os.environ.get("VAI_SESSION", "1")
        session = int(inherited) if inherited.isdigit() else 1
    elif target.isdigit():
        number = int(target)
        if number >= SNOWFLAKE_MIN:
            channel = number
        else:
            session = number
    else:
        raise BridgeError(f"{target!r} is neither a session number nor a channel id")
    path = ""
    if file_path:
        resolved = Path(file_path).expanduser().absolute()
        if not resolved.is_file():
            raise BridgeError(f"no such file: {resolved}")
        path = str(resolved)
    return PostMessage(session=session, channel_id=channel, text=text, file_path=path)


def main(argv: Sequence[str] | None = None) -> int:
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
    target = words.pop(0) if words and words[0].isdigit() and takes_target else None
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
