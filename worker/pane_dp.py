#!/usr/bin/env python3
"""`dp` inside a Claude pane: post to this session's own Discord channel, nothing else.

`dp "text"`, `dp --file PATH`, `echo text | dp`; `dp N ...` / `dp CHANNEL_ID ...` are
accepted only when they name this session (anything else is refused by its worker, with
a clear message). The worker copies this file into run/session-N/bin/ (first on the
pane's PATH); it talks to that session's worker over the session's socket with the
session's key, exactly like the hook client, and the worker posts through the supervisor.
A file is read here, as Claude's user, and sent as bytes: Claude can post only files it
can read. Stdlib only (Claude's user runs it with the system Python).

Exit codes: 0 posted (or queued), 1 refused or failed, 2 bad usage, 4 no worker.
"""

import argparse
import base64
import json
import os
import socket
import sys

MAX_FILE = 100 * 1024 * 1024  # Discord takes less; the worker applies the real limit
SUMMARY = "post to this session's own Discord channel"


def session_dir() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ask(folder: str, key: bytes, body: bytes) -> tuple[bool, str]:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.settimeout(60)
    conn.connect(os.path.join(folder, "hook.sock"))
    conn.sendall(b"vai1 post " + key + b"\n" + body)
    conn.shutdown(socket.SHUT_WR)
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    conn.close()
    status, _, text = b"".join(chunks).decode("utf-8", "replace").strip().partition(" ")
    if status not in ("ok", "error"):
        return False, "the worker refused the connection (see its log)"
    return status == "ok", text


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="dp", description=SUMMARY)
    parser.add_argument("words", nargs="*", help="[this session|its channel id] message")
    parser.add_argument("--file", help="a file to upload")
    args = parser.parse_args(argv)
    words = list(args.words)
    piped = not sys.stdin.isatty()
    takes_target = len(words) > 1 or bool(args.file) or (len(words) == 1 and piped)
    target = words.pop(0) if words and words[0].strip().isdigit() and takes_target else None
    text = " ".join(words)
    if not text and not args.file and piped:
        text = sys.stdin.read()
    request: dict[str, object] = {"target": target, "text": text}
    if args.file:
        try:
            with open(args.file, "rb") as handle:
                data = handle.read(MAX_FILE + 1)
        except OSError as exc:
            print(f"dp: cannot read {args.file}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        if len(data) > MAX_FILE:
            print(f"dp: {args.file} is over {MAX_FILE // (1024 * 1024)} MB", file=sys.stderr)
            return 1
        request["file_name"] = os.path.basename(args.file)
        request["file"] = base64.b64encode(data).decode()
    folder = session_dir()
    try:
        with open(os.path.join(folder, "hook.key"), "rb") as handle:
            key = handle.read().strip()
    except OSError as exc:
        print(f"dp: cannot read this session's key: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        ok, answer = ask(folder, key, json.dumps(request).encode())
    except OSError as exc:
        print(f"dp: this session's worker does not answer: {exc}", file=sys.stderr)
        return 4
    print(f"dp: {answer}" if not ok else answer, file=sys.stdout if ok else sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
