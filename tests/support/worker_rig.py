"""A real worker process against a test ROUTER standing in for the supervisor's bus."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec

from tests.support.harness import Router, standin_command, standin_env
from tests.support.tmux import TmuxServer
from vai.common.child_secrets import ChildSecrets, secrets_pipe
from vai.protocol.framing import worker_identity
from vai.protocol.layout import Layout, ipc_endpoint
from vai.protocol.messages import Author, ChatMessage, Deliver, WireMessage
from vai.protocol.specs import WORKER_SPEC_ENV, WorkerSpec, encode_spec

SESSION = 1
USER = Author(id=42, name="alice")


class WorkerRig:
    def __init__(self, home: Path, tmux: TmuxServer) -> None:
        self.layout = Layout(str(home))
        for d in (self.layout.run_dir, self.layout.state_dir, self.layout.logs_dir):
            d.mkdir(parents=True, mode=0o700, exist_ok=True)
        self.tmux = tmux
        self.router = Router(ipc_endpoint(self.layout.bus_socket))
        self.work_dir = home / "work"
        self.work_dir.mkdir()
        self.spec = WorkerSpec(
            session=SESSION,
            channel_id=1000,
            home=str(home),
            tmux_socket=tmux.socket_name,
            claude_command=standin_command(),
            work_dir=str(self.work_dir),
            ready_timeout=10,
            heartbeat_interval=0.5,
        )
        self.env = standin_env(home / "claude-home")
        self.env[WORKER_SPEC_ENV] = encode_spec(self.spec)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.next_id = 1

    def start_worker(self) -> subprocess.Popen[bytes]:
        """The worker, handed its bus keys through a pipe as the supervisor hands them."""
        log = open(self.layout.session_log(SESSION), "ab")  # noqa: SIM115 - closed with the process
        keys = self.router.client_keys(worker_identity(SESSION))
        with secrets_pipe(ChildSecrets(bus=keys)) as fd:
            spec = msgspec.structs.replace(self.spec, secrets_fd=fd)
            process = subprocess.Popen(
                [sys.executable, "-m", "vai.worker"],
                env={**self.env, WORKER_SPEC_ENV: encode_spec(spec)},
                stdout=log,
                stderr=log,
                pass_fds=(fd,),
            )
        log.close()
        self.processes.append(process)
        return process

    def expect(self, kind: type[WireMessage], timeout: float = 10, **fields: object) -> WireMessage:
        def accept(message: WireMessage) -> bool:
            return isinstance(message, kind) and all(
                getattr(message, k) == v for k, v in fields.items()
            )

        return self.router.expect(accept, timeout, f"{kind.__name__} {fields}")[1]

    def deliver(self, content: str) -> ChatMessage:
        message = ChatMessage(
            message_id=self.next_id, channel_id=1000, author=USER, content=content
        )
        self.next_id += 1
        self.router.send(worker_identity(SESSION), Deliver(message=message))
        return message

    def log_text(self) -> str:
        return self.layout.session_log(SESSION).read_text(errors="replace")

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait()
        self.router.close()
