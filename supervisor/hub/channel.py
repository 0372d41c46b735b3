"""A reliable ordered channel over a link that loses frames: the pure rules, no sockets.

A ZeroMQ connection that drops loses the frames it had accepted, so each direction of the
hub ↔ host link numbers its frames and keeps every one until the other side acks it:
- the sender gives each payload the next sequence number, keeps it, and resends every
  unacked frame, oldest first, after a reconnect or when the oldest has waited too long;
- the receiver delivers only the next number it expects: a duplicate (already delivered)
  is dropped, and so is a frame after a gap (an earlier one was lost: the sender resends
  from there), so a resent frame is never overtaken by a later one (go-back-N);
- acks are cumulative and ride on every frame, heartbeats included.
Each side has an epoch (a random id per process): a restarted peer has a new one, and
a receiver that meets a new epoch starts at that frame's `floor` (the lowest number its
sender still holds), since everything below was acked to the peer's previous incarnation.

What reaches the other side more than once across a restart (a message the old host
agent had taken but not acked) is made harmless by the bridge's idempotency keys above
this layer: message id, turn id, reply id.
"""

from __future__ import annotations

import logging
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from vai.protocol.host_link import LinkFrame

log = logging.getLogger("supervisor")

# Unacked frames kept at most; past this the oldest go (logged): a peer away for this long
# gets its sessions' backlog from the hub's inbox anyway.
MAX_UNACKED = 20_000


@dataclass
class _Pending:
    seq: int
    body: bytes
    sent_at: float


@dataclass(frozen=True)
class Received:
    """What one incoming frame gave: payloads to deliver, in order, and whether the peer
    is a new incarnation (it restarted: what it knew is gone)."""

    bodies: tuple[bytes, ...] = ()
    peer_restarted: bool = False
    duplicate: bool = False
    gap: bool = False


class ReliableChannel:
    def __init__(
        self,
        clock: Callable[[], float],
        *,
        resend_after: float = 2.0,
        max_unacked: int = MAX_UNACKED,
        epoch: str | None = None,
    ) -> None:
        self.clock = clock
        self.resend_after = resend_after
        self.max_unacked = max_unacked
        self.epoch = epoch or secrets.token_hex(8)
        self._next_seq = 1
        self._unacked: deque[_Pending] = deque()
        self.peer_epoch = ""
        self._expected = 1  # the next seq of peer_epoch to deliver
        self.dropped = 0  # frames given up past max_unacked

    # -- sending -----------------------------------------------------------------------------

    def send(self, body: bytes) -> LinkFrame:
        """Number `body`, keep it until acked, and return the frame to send now."""
        pending = _Pending(self._next_seq, body, self.clock())
        self._next_seq += 1
        self._unacked.append(pending)
        if len(self._unacked) > self.max_unacked:
            self._unacked.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("link: %d unacked frames given up (peer away too long)", self.dropped)
        return self._frame(pending)

    def heartbeat(self) -> LinkFrame:
        """A frame with nothing to deliver: says we are alive, and carries our ack."""
        return LinkFrame(
            epoch=self.epoch, floor=self.floor, ack=self._expected - 1, ack_epoch=self.peer_epoch
        )

    def resend_all(self) -> list[LinkFrame]:
        """Every unacked frame, oldest first (after a reconnect)."""
        now = self.clock()
        for pending in self._unacked:
            pending.sent_at = now
        return [self._frame(p) for p in self._unacked]

    def resend_due(self) -> list[LinkFrame]:
        """All unacked frames, in order, when the oldest has waited past `resend_after`
        (go-back-N: the receiver dropped everything after a lost one)."""
        if self._unacked and self.clock() - self._unacked[0].sent_at >= self.resend_after:
            return self.resend_all()
        return []

    def next_resend(self) -> float | None:
        """When resend_due may next return frames (None: nothing unacked)."""
        return self._unacked[0].sent_at + self.resend_after if self._unacked else None

    @property
    def floor(self) -> int:
        return self._unacked[0].seq if self._unacked else self._next_seq

    @property
    def unacked(self) -> int:
        return len(self._unacked)

    def _frame(self, pending: _Pending) -> LinkFrame:
        return LinkFrame(
            epoch=self.epoch,
            seq=pending.seq,
            floor=self.floor,
            ack=self._expected - 1,
            ack_epoch=self.peer_epoch,
            body=pending.body,
        )

    # -- receiving ---------------------------------------------------------------------------

    def receive(self, frame: LinkFrame) -> Received:
        restarted = False
        if frame.epoch != self.peer_epoch:
            restarted = bool(self.peer_epoch)
            self.peer_epoch = frame.epoch
            self._expected = max(frame.floor, 1)
        elif frame.floor > self._expected:
            self._expected = frame.floor  # the sender gave those up (max_unacked)
        if frame.ack_epoch == self.epoch:
            self._acked(frame.ack)
        if frame.seq == 0:
            return Received(peer_restarted=restarted)
        if frame.seq < self._expected:
            return Received(peer_restarted=restarted, duplicate=True)
        if frame.seq > self._expected:
            return Received(peer_restarted=restarted, gap=True)
        self._expected += 1
        return Received(bodies=(frame.body,), peer_restarted=restarted)

    def _acked(self, ack: int) -> None:
        while self._unacked and self._unacked[0].seq <= ack:
            self._unacked.popleft()
