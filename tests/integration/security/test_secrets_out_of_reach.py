"""The bot token is in no process's environment, and no bridge process can be read.

The supervisor is started with the token in its environment (as systemd's
EnvironmentFile= would): once running, neither it, the gateway (which got the token
through its secrets pipe) nor a worker shows it in /proc/PID/environ. And every one of
them is non-dumpable: another process of the same user cannot read its environ at all
(while it can read an ordinary process of that user), nor can another user.

The tests run as root here. Root's capabilities would hide what non-dumpable does
(CAP_SYS_PTRACE, CAP_SYS_ADMIN, CAP_PERFMON and CAP_CHECKPOINT_RESTORE each let a reader
in, and a reader needs every capability its target has), so the bridge and the same-user
reader both run as root with every capability dropped (setpriv), like any user's
processes; the other user is a throwaway account, deleted afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.stack import TOKEN, gateway_pid, running_stack, worker_pids
from tests.support.tmux import TmuxServer

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        os.geteuid() != 0 or not shutil.which("setpriv") or not shutil.which("useradd"),
        reason="needs root, setpriv and useradd",
    ),
]

UNPRIVILEGED = ["setpriv", "--inh-caps=-all", "--bounding-set=-all"]


def read_as(prefix: list[str], pid: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, "cat", f"/proc/{pid}/environ"],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


@contextmanager
def throwaway_user() -> Iterator[str]:
    name = f"vai-probe-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    try:
        yield name
    finally:
        subprocess.run(["userdel", name], check=False, capture_output=True)


def test_no_bridge_process_shows_the_token_or_lets_itself_be_read(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    with running_stack(short_tmp, tmux_server, channels=2) as (stack, (chan, _)):
        stack.start(prefix=UNPRIVILEGED)
        stack.wait_all_running()
        stack.discord.post_user_message(chan, "hello")
        stack.wait_bot_message(chan, "echo: hello", timeout=30)  # the token works
        gateway = gateway_pid(stack)
        assert stack.process is not None and gateway is not None
        pids = {"supervisor": stack.process.pid, "gateway": gateway}
        pids |= {f"worker {n}": pid for n, pid in worker_pids(stack).items()}
        assert len(pids) == 4
        for name, pid in pids.items():
            environ = Path(f"/proc/{pid}/environ").read_bytes()  # as root: allowed
            assert TOKEN.encode() not in environ, name
            assert b"DISCORD_BOT_TOKEN=" not in environ, name
            refused = read_as(UNPRIVILEGED, pid)
            assert refused.returncode != 0 and "Permission denied" in refused.stderr, name

        # The same reader can read an ordinary (dumpable) process of the same user.
        with subprocess.Popen([*UNPRIVILEGED, "sleep", "60"]) as ordinary:
            try:
                assert read_as(UNPRIVILEGED, ordinary.pid).returncode == 0
            finally:
                ordinary.kill()

        with throwaway_user() as other:
            for name, pid in pids.items():
                refused = read_as(["runuser", "-u", other, "--"], pid)
                assert refused.returncode != 0 and "Permission denied" in refused.stderr, name
