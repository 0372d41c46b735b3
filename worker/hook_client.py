"""Claude runs this for every hook event: hand the JSON on stdin to the session's worker.

It is started per event, so it imports almost nothing and runs with `python -I -S`: the C
socket module (`_socket`, not `socket`, whose enum and selectors imports cost more than the
rest of the run), and `os` only when it has to spool. Its cost per event is measured by
tests/bench/bench_hook_client.py (target: under 50 ms).

If no worker is listening (it is restarting), the event is appended to the session's
spool file, which the next worker replays, so no event is lost. For events that wait for
a decision (PermissionRequest, AskUserQuestion), whatever the worker answers is printed
for Claude.

Usage: hook_client.py SOCKET_PATH SPOOL_PATH
"""

import _socket
import sys


def spool(path: str, payload: bytes) -> None:
    import os

    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, payload + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def main() -> int:
    socket_path, spool_path = sys.argv[1], sys.argv[2]
    payload = sys.stdin.buffer.read().strip().replace(b"\n", b" ")
    try:
        conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        conn.settimeout(900)
        conn.connect(socket_path)
        conn.sendall(payload)
        conn.shutdown(_socket.SHUT_WR)
        chunks = []
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        conn.close()
    except OSError:
        spool(spool_path, payload)
        return 0
    answer = b"".join(chunks)
    if answer:
        sys.stdout.buffer.write(answer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
