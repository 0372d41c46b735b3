"""What the supervisor tells a worker at spawn time (JSON in VAI_WORKER_SPEC).

The worker reads no configuration file and never sees the bot token: all it needs is here.
"""

from __future__ import annotations

import msgspec

from vai.protocol.layout import Layout
from vai.worker.attachments import AttachmentLimits

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
    # Permission prompts and questions wait this long for the channel, then are denied.
    choice_timeout: float = 300.0
    # Start-up dialogs the worker accepts by itself; the others are asked in the channel.
    trust_work_dir: bool = False
    approve_api_key: bool = False
    accept_bypass_permissions: bool = False
    # Attachments (worker/attachments.py).
    attachments_max_file_mb: float = 50.0
    attachments_quota_mb: float = 250.0
    attachments_max_age_hours: float = 24.0
    attachments_per_session: int = 5
    attachments_total: int = 20

    @property
    def layout(self) -> Layout:
        return Layout(self.home)


def encode_spec(spec: WorkerSpec) -> str:
    return msgspec.json.encode(spec).decode()


def decode_spec(text: str) -> WorkerSpec:
    return msgspec.json.decode(text, type=WorkerSpec)


def attachment_limits(spec: WorkerSpec) -> AttachmentLimits:
    mb = 1024 * 1024
    return AttachmentLimits(
        max_file_bytes=int(spec.attachments_max_file_mb * mb),
        quota_bytes=int(spec.attachments_quota_mb * mb),
        max_age_s=spec.attachments_max_age_hours * 3600,
        per_session=spec.attachments_per_session,
        total=spec.attachments_total,
    )
