"""The hub ↔ host link (issue 15): what crosses between the hub and a host agent. Pure data.

Every frame on the link is a `LinkFrame`: the reliable channel's header (the sender's
epoch, a sequence number, the lowest sequence it still waits an ack for, and its own
ack of the other direction) around one encoded payload of the link's union. A frame with
`seq` 0 carries no payload: a heartbeat, and an ack.

What the payloads carry is the local bus's own messages, whole (`frame`, encoded as the
worker sent it or as the supervisor would send it), so the hub decodes a remote worker's
message with the worker's link and routes it exactly as a local one. Files cross as bytes,
never paths (`PostFile`).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

from vai.protocol.codec import decode_frame
from vai.protocol.messages import PROTOCOL_VERSION
from vai.protocol.session_settings import SessionSettings


class LinkFrame(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    v: int = PROTOCOL_VERSION
    epoch: str  # the sender's incarnation: a restarted process starts a new one
    seq: int = 0  # 0: nothing to deliver (heartbeat / ack only)
    floor: int = 0  # every seq below this was acked: a fresh receiver starts here
    ack: int = 0  # the highest seq of `ack_epoch` received in order
    ack_epoch: str = ""
    body: bytes = b""


class LinkPayload(msgspec.Struct, tag_field="type", kw_only=True, omit_defaults=True):
    """Base of what a LinkFrame carries."""


# --- host -> hub ---------------------------------------------------------------------------


class FromWorker(LinkPayload, tag="from_worker"):
    """A frame one of the host's workers sent (decoded by the hub with the worker's link)."""

    session: int
    frame: bytes


class HostHello(LinkPayload, tag="host_hello"):
    """The host agent, (re)connected: the hub answers with the host's placement."""

    pid: int


class HostAlert(LinkPayload, tag="host_alert"):
    """A notice for a session's channel from the host (a session stopped, recovered)."""

    session: int
    text: str
    icon: str = "⚠️"


class PostFile(LinkPayload, tag="post_file"):
    """`dp` on a host: text and a file's bytes (read on the host) for a session's channel."""

    session: int
    text: str = ""
    filename: str = ""
    data: bytes = b""


class SessionReport(msgspec.Struct, frozen=True, omit_defaults=True):
    session: int
    state: str = "STOPPED"
    pid: int | None = None
    uptime_s: float | None = None
    detail: str = ""


class HostReport(LinkPayload, tag="host_report"):
    """How the host's workers are (for `vai status` on the hub)."""

    sessions: list[SessionReport]


# --- hub -> host ---------------------------------------------------------------------------


class Placement(LinkPayload, tag="placement"):
    """The sessions placed on this host (session -> channel): the host runs exactly these,
    each with its record (work dir, name...; the same paths on every host)."""

    sessions: dict[int, int]
    settings: dict[int, SessionSettings] = msgspec.field(default_factory=dict)


class ToWorker(LinkPayload, tag="to_worker"):
    """A frame for one of the host's workers, as the supervisor's bus would send it."""

    session: int
    frame: bytes


class RecoverWorker(LinkPayload, tag="recover_worker"):
    """`vai recover N` on the hub for a session on this host: restart its worker now."""

    session: int


HostToHub = FromWorker | HostHello | HostAlert | PostFile | HostReport
HubToHost = Placement | ToWorker | RecoverWorker

P = TypeVar("P")


class LinkDecoder(Generic[P]):
    def __init__(self, name: str, union: Any) -> None:
        self.name = name
        self._decoder: msgspec.msgpack.Decoder[P] = msgspec.msgpack.Decoder(union)

    def decode(self, body: bytes) -> P:
        return decode_frame(self._decoder, body, self.name)


_encoder = msgspec.msgpack.Encoder()
FRAMES: LinkDecoder[LinkFrame] = LinkDecoder("hub link", LinkFrame)
FROM_HOST: LinkDecoder[HostToHub] = LinkDecoder("host → hub", HostToHub)
TO_HOST: LinkDecoder[HubToHost] = LinkDecoder("hub → host", HubToHost)


def encode_link(item: LinkFrame | LinkPayload) -> bytes:
    return _encoder.encode(item)
