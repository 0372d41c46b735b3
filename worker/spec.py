"""What the supervisor tells a worker at spawn time (JSON in VAI_WORKER_SPEC).

The worker reads no configuration file and never sees the bot token: all it needs is here.
"""

from __future__ import annotations

import msgspec

from protocol.layout import Layout

SPEC_ENV = "VAI_WORKER_SPEC"


class WorkerSpec(msgspec.Struct, frozen=True, kw_only=True):
    session: int
    channel_id: int
    home: str
    tmux_socket: str
    claude_command: list[str]
    work_dir: str
    ready_timeout: float = 30.0
    heartbeat_interval: float = 1.0

    @property
    def layout(self) -> Layout:
        return Layout(self.home)


def encode_spec(spec: WorkerSpec) -> str:
    return msgspec.json.encode(spec).decode()


def decode_spec(text: str) -> WorkerSpec:
    return msgspec.json.decode(text, type=WorkerSpec)
