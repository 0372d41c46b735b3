"""Hostile probes, run inside a Claude pane (as Claude's user) by the stand-in's `!bash`.

Stdlib only: Claude's user runs it with the system Python. Each probe prints one short
line, so the answer posted to the channel says what happened.

  pane_probe.py read PATH...           READ / DENIED per path
  pane_probe.py connect SOCKET...      CONNECTED / REFUSED per Unix socket
  pane_probe.py forge SOCKET KEY EVENT TEXT
                                       send a hook event: KEY is a key file, `none` (a
                                       bare payload) or `wrong`; EVENT Stop or SessionStart
"""

from __future__ import annotations

import json
import os
import socket
import sys


def read(paths: list[str]) -> None:
    for path in paths:
        try:
            if os.path.isdir(path):
                os.listdir(path)
            else:
                with open(path, "rb") as handle:
                    handle.read(1)
            print(f"READ {os.path.basename(path)}")
        except OSError:
            print("DENIED")


def connect(paths: list[str]) -> None:
    for path in paths:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.connect(path)
            print(f"CONNECTED {os.path.basename(path)}")
        except OSError:
            print("REFUSED")
        finally:
            conn.close()


def forge(path: str, key: str, event: str, text: str) -> None:
    payload: dict[str, object] = {
        "session_id": "00000000-0000-4000-8000-00000000f00d",
        "transcript_path": "/etc/passwd",
        "cwd": "/",
        "hook_event_name": event,
    }
    if event == "Stop":
        payload.update(last_assistant_message=text, stop_hook_active=False)
    else:
        payload.update(source="startup")
    body = json.dumps(payload).encode()
    if key == "none":
        header = b""
    elif key == "wrong":
        header = b"vai1 hook " + b"0" * 64 + b"\n"
    else:
        try:
            with open(key, "rb") as handle:
                header = b"vai1 hook " + handle.read().strip() + b"\n"
        except OSError:
            print("NOKEY")
            return
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(30)
    try:
        conn.connect(path)
        conn.sendall(header + body)
        conn.shutdown(socket.SHUT_WR)
        while conn.recv(65536):
            pass
        print("SENT")
    except OSError:
        print("REFUSED")
    finally:
        conn.close()


def main(argv: list[str]) -> int:
    command, args = argv[0], argv[1:]
    if command == "read":
        read(args)
    elif command == "connect":
        connect(args)
    elif command == "forge":
        forge(*args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
