"""A hub and its host agents as real processes, each in its own network namespace.

The hub is `vai run` (tests/support/stack.py's Stack) with `[hub] listen`; each host is
`vai run --host` with its own VAI_HOME, tmux socket and keypair (`vai init --host`). The
local Discord runs in the test and is reached by the hub's gateway over a veth.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.harness import standin_command, wait_until
from tests.support.netns import Star
from tests.support.stack import TOKEN, Stack
from tests.support.tmux import TmuxServer
from vai.gateway.local_discord import LocalDiscordThread
from vai.protocol.layout import Layout
from vai.supervisor.hub.keys import write_keypair

HUB_PORT = 7310


class HostProcess:
    """One host agent: `vai run --host` in its namespace."""

    def __init__(
        self,
        root: Path,
        name: str,
        star: Star,
        hub_key: str,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.star = star
        self.home = root / f"host-{name}"
        self.layout = Layout(str(self.home))
        self.tmux = TmuxServer(f"vai-mh-{os.getpid()}-{star.tag}-{name}")
        work = root / f"work-{name}"
        work.mkdir(parents=True, exist_ok=True)
        claude_home = root / f"claude-home-{name}"
        claude_home.mkdir(exist_ok=True)
        self.env = {
            **os.environ,
            "VAI_HOME": str(self.home),
            "VAI_CLAUDE_COMMAND": shlex.join(standin_command()),
            "VAI_CLAUDE_WORK_DIR": str(work),
            "VAI_TMUX_SOCKET": self.tmux.socket_name,
            "HOME": str(claude_home),
            "STANDIN_CLAUDE_STARTUP_MS": "0",
            **(extra_env or {}),
        }
        self.env.pop("DISCORD_BOT_TOKEN", None)
        endpoint = f"tcp://{star.hub_address[name]}:{HUB_PORT}"
        done = self.vai(
            "init", "--host", name, "--hub", endpoint, "--hub-key", hub_key, "--no-input"
        )
        assert done.returncode == 0, done.stderr
        self.public_key = next(
            line.split(": ")[-1]
            for line in done.stdout.splitlines()
            if line.startswith(f"public key of host {name}")
        )
        self.process: subprocess.Popen[bytes] | None = None

    def vai(
        self, *args: str, timeout: float = 60, in_netns: bool = False
    ) -> subprocess.CompletedProcess[str]:
        prefix = self.star.prefix(self.name) if in_netns else []
        return subprocess.run(
            [*prefix, sys.executable, "-m", "vai.supervisor", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def start(self) -> None:
        log = open(self.home / "vai-run.out", "ab")  # noqa: SIM115 - handed to the child
        self.process = subprocess.Popen(
            [*self.star.prefix(self.name), sys.executable, "-m", "vai.supervisor", "run", "--host"],
            env=self.env,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()

    def kill_agent(self) -> None:
        """SIGKILL the host agent alone (its workers notice and exit on their own)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def log(self) -> str:
        return self.layout.process_log("supervisor").read_text(errors="replace")

    def output(self) -> str:
        parts = []
        for path in [self.home / "vai-run.out", *sorted(self.layout.logs_dir.glob("*.log"))]:
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace")[-3000:]
                parts.append(f"--- host {self.name}: {path.name}\n{text}")
        return "\n".join(parts)

    def kill(self) -> None:
        """Teardown: the agent's process group, then its tmux server (and so its panes)."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.tmux.kill()


@dataclass
class Cluster:
    star: Star
    discord: LocalDiscordThread
    hub: Stack
    hosts: dict[str, HostProcess]
    channels: dict[int, int]  # session -> channel

    def output(self) -> str:
        return "\n".join([self.hub.output(), *(h.output() for h in self.hosts.values())])


@contextlib.contextmanager
def running_cluster(
    root: Path,
    tmux: TmuxServer,
    placement: dict[int, str],
    extra_env: Mapping[str, str] | None = None,
    rate_limits: bool = True,
) -> Iterator[Cluster]:
    """Sessions placed as `placement` says ("" for the hub's own machine), every process
    started and every session RUNNING."""
    star = Star()
    hosts: dict[str, HostProcess] = {}
    try:
        names = sorted({h for h in placement.values() if h})
        for index, name in enumerate(names, start=1):
            star.add_host(name, index)
        outside = star.link_outside()
        with LocalDiscordThread(host=outside, token=TOKEN, rate_limits=rate_limits) as discord:
            hub = Stack(root, tmux, discord, extra_env=extra_env)
            hub_keys = write_keypair(hub.layout.hub_key)
            for name in names:
                hosts[name] = HostProcess(
                    root, name, star, hub_keys.public.decode(), extra_env=extra_env
                )
            channels = {s: discord.add_channel(f"channel-{s}") for s in sorted(placement)}
            hub.write_sessions(channels)
            records = {
                str(s): {"channel_id": str(channels[s]), "host": h} if h else str(channels[s])
                for s, h in placement.items()
            }
            hub.layout.sessions_file.write_text(json.dumps(records))
            registered = "\n".join(
                f'[hub.hosts.{name}]\npublic_key = "{host.public_key}"'
                for name, host in hosts.items()
            )
            hub.write_config(f'[hub]\nlisten = "tcp://0.0.0.0:{HUB_PORT}"\n\n{registered}\n')
            cluster = Cluster(star, discord, hub, hosts, channels)
            try:
                hub.start(prefix=star.prefix("hub"))
                for host in hosts.values():
                    host.start()
                wait_all_running(cluster)
                yield cluster
            except BaseException:
                print(cluster.output())
                raise
            finally:
                for host in hosts.values():
                    host.kill()
                hub.kill()
    finally:
        star.close()


def wait_all_running(cluster: Cluster, timeout: float = 60) -> None:
    wait_until(lambda: cluster.hub.vai("status").returncode == 0, timeout, "all sessions RUNNING")


def rogue_link(
    endpoint: str, hub_key: str, public: str, secret: str, payloads: list[bytes]
) -> None:
    """Connect to the hub as a host would, with the given keys, and send `payloads`
    (encoded host → hub payloads) through a reliable channel of its own."""
    import time

    import zmq

    from vai.common.bus_auth import ClientKeys, secure_client
    from vai.protocol.host_link import encode_link
    from vai.supervisor.hub.channel import ReliableChannel

    context = zmq.Context()
    socket = context.socket(zmq.DEALER)
    try:
        secure_client(
            socket,
            ClientKeys(server_key=hub_key, public_key=public, secret_key=secret, identity="rogue"),
        )
        socket.setsockopt(zmq.LINGER, 1000)
        socket.connect(endpoint)
        channel = ReliableChannel(time.monotonic)
        for payload in payloads:
            socket.send(encode_link(channel.send(payload)))
        socket.poll(2000)  # let the hub answer (or refuse the handshake) before closing
    finally:
        socket.close(linger=1000)
        context.term()


def log_has(path: Path, text: str) -> bool:
    with contextlib.suppress(OSError):
        return text in path.read_text(errors="replace")
    return False
