"""Claude runs this for every hook event: hand the JSON on stdin to the session's worker.

It is started per event, so it imports almost nothing and runs with `python -I -S`: the C
socket module (`_socket`, not `socket`, whose enum and selectors imports cost more than the
rest of the run), and `os` only when it has to spool. Its cost per event is measured by
tests/bench/bench_hook_client.py (target: under 50 ms).

Every event carries the session's key (hook.key beside this file's socket, readable only
by the bridge and the session's Claude user) in a header line, `vai1 hook KEY`, so the
worker takes events from this session's Claude only (worker/pane_gate.py). If no worker
is listening (it is restarting), the event is appended, with the key, to the session's
spool file, which the next worker replays, so no event is lost. For events that wait for
a decision (PermissionRequest, AskUserQuestion), whatever the worker answers is printed
for Claude.

Usage: hook_client.py SESSION_DIR (run/session-N: hook.sock, hook.key, hook.spool)
"""

import _socket
import sys


def spool(path: str, key: bytes, payload: bytes) -> None:
    """Append under an exclusive lock: the worker empties the spool under the same lock."""
    import fcntl
    import os

    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, key + b" " + payload + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def main() -> int:
    folder = sys.argv[1]
    payload = sys.stdin.buffer.read().strip().replace(b"\n", b" ")
    try:
        with open(folder + "/hook.key", "rb") as handle:
            key = handle.read().strip()
    except OSError:
        key = b"-"
    try:
        conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        conn.settimeout(900)
        conn.connect(folder + "/hook.sock")
        conn.sendall(b"vai1 hook " + key + b"\n" + payload)
        conn.shutdown(_socket.SHUT_WR)
        chunks = []
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        conn.close()
    except OSError:
        spool(folder + "/hook.spool", key, payload)
        return 0
    answer = b"".join(chunks)
    if answer:
        sys.stdout.buffer.write(answer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
