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

Run as Claude's statusLine command (`hook_client.py SESSION_DIR status`), it forwards the
status JSON (cost, context window) under the header kind `status`, with a short timeout and
never spooled (a reading is only worth its freshness; Claude waits for the line), then
prints the operator's own status line if their settings have one (Claude's HOME
~/.claude/settings.json, the work dir's .claude/settings.json and settings.local.json, the
last one winning as in Claude), run with the same stdin, else nothing.

Usage: hook_client.py SESSION_DIR [status] (run/session-N: hook.sock, hook.key, hook.spool)
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


STATUS_SEND_TIMEOUT = 0.5
OPERATOR_TIMEOUT = 2.0


def operator_status_line() -> str:
    """The operator's statusLine command from their own settings files ("" if none;
    `json` is imported only for a file that names one: it costs a third of the run)."""
    import os

    home = os.environ.get("HOME", "")
    files = [home + "/.claude/settings.json"] if home else []
    files += [".claude/settings.json", ".claude/settings.local.json"]
    found = ""
    for name in files:
        try:
            with open(name, "rb") as handle:
                raw = handle.read()
            if b"statusLine" not in raw:
                continue
            import json

            data = json.loads(raw)
        except (OSError, ValueError, RecursionError):
            continue
        entry = data.get("statusLine") if isinstance(data, dict) else None
        if isinstance(entry, dict) and entry.get("type", "command") == "command":
            command = entry.get("command")
            # Never this client itself (settings copied from the bridge's): it would
            # run itself again and again.
            if isinstance(command, str) and command.strip() and sys.argv[0] not in command:
                found = command
    return found


def run_operator(command: str, payload: bytes) -> bytes:
    """Their command's output (sh -c, same stdin), or nothing if it fails or is slow (then
    it is killed with whatever it started)."""
    import contextlib
    import os
    import signal
    import subprocess

    try:
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError:
        return b""
    try:
        out, _ = proc.communicate(payload, timeout=OPERATOR_TIMEOUT)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return b""
    return out


def status(folder: str) -> int:
    """statusLine mode: forward the reading, print the operator's line (or nothing)."""
    payload = sys.stdin.buffer.read()
    try:
        with open(folder + "/hook.key", "rb") as handle:
            key = handle.read().strip()
        conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        conn.settimeout(STATUS_SEND_TIMEOUT)
        conn.connect(folder + "/hook.sock")
        conn.sendall(b"vai1 status " + key + b"\n" + payload)
        conn.shutdown(_socket.SHUT_WR)
        while conn.recv(4096):
            pass
        conn.close()
    except OSError:
        pass  # no worker now, or a slow one: this reading is lost, the next one counts
    command = operator_status_line()
    if command:
        sys.stdout.buffer.write(run_operator(command, payload))
    return 0


def main() -> int:
    folder = sys.argv[1]
    if sys.argv[2:] == ["status"]:
        return status(folder)
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
