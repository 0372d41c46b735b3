"""The hub ↔ host reliable channel and link liveness, with a fake clock and no sockets.

Two channels face each other through a `Wire` that can lose, duplicate and hold frames,
as a ZeroMQ connection that drops does (it loses what it had accepted).
"""

from __future__ import annotations

import random

from tests.support.clock import FakeClock
from vai.common.backoff import Backoff
from vai.protocol.host_link import LinkFrame
from vai.supervisor.hub.channel import ReliableChannel
from vai.supervisor.hub.liveness import LinkLiveness


def deliver(receiver: ReliableChannel, frames: list[LinkFrame]) -> list[bytes]:
    out: list[bytes] = []
    for frame in frames:
        out += receiver.receive(frame).bodies
    return out


def pair(clock: FakeClock) -> tuple[ReliableChannel, ReliableChannel]:
    return ReliableChannel(clock, epoch="host-1"), ReliableChannel(clock, epoch="hub-1")


def test_in_order_frames_are_delivered_and_acked() -> None:
    clock = FakeClock()
    host, hub = pair(clock)
    frames = [host.send(f"m{i}".encode()) for i in range(3)]
    assert deliver(hub, frames) == [b"m0", b"m1", b"m2"]
    assert host.unacked == 3
    host.receive(hub.heartbeat())  # the ack rides on any frame
    assert host.unacked == 0


def test_a_lost_frame_is_never_overtaken_and_resent_in_order() -> None:
    clock = FakeClock()
    host, hub = pair(clock)
    frames = [host.send(f"m{i}".encode()) for i in range(5)]
    # The connection dropped: m1 and m2 were lost, m3 and m4 arrive.
    got = deliver(hub, [frames[0], frames[3], frames[4]])
    assert got == [b"m0"]  # m3 did not overtake m1
    host.receive(hub.heartbeat())
    assert host.unacked == 4
    assert host.resend_due() == []  # not yet
    clock.advance(host.resend_after)
    got += deliver(hub, host.resend_due())
    assert got == [b"m0", b"m1", b"m2", b"m3", b"m4"]


def test_duplicates_are_dropped() -> None:
    clock = FakeClock()
    host, hub = pair(clock)
    frames = [host.send(f"m{i}".encode()) for i in range(3)]
    got = deliver(hub, frames)
    # The acks were lost: everything is resent after a reconnect.
    got += deliver(hub, host.resend_all())
    got += deliver(hub, [frames[1]])
    assert got == [b"m0", b"m1", b"m2"]
    assert hub.receive(frames[2]).duplicate


def test_random_loss_duplication_and_reconnects_deliver_each_once_in_order() -> None:
    rng = random.Random(15)
    clock = FakeClock()
    host, hub = pair(clock)
    sent = [f"m{i}".encode() for i in range(300)]
    got: list[bytes] = []
    in_flight: list[LinkFrame] = []
    for body in sent:
        in_flight.append(host.send(body))
        if rng.random() < 0.3:  # the wire passes what it holds, losing and doubling some
            for frame in in_flight:
                if rng.random() < 0.25:
                    continue
                got += hub.receive(frame).bodies
                if rng.random() < 0.1:
                    got += hub.receive(frame).bodies
            in_flight = []
            if rng.random() < 0.5:
                host.receive(hub.heartbeat())
        if rng.random() < 0.05:
            in_flight = host.resend_all()  # a reconnect
    for _ in range(50):
        got += deliver(hub, host.resend_all())
        host.receive(hub.heartbeat())
        if host.unacked == 0:
            break
    assert got == sent
    assert host.unacked == 0


def test_a_restarted_receiver_starts_at_the_senders_floor() -> None:
    clock = FakeClock()
    host, hub = pair(clock)
    deliver(hub, [host.send(b"a"), host.send(b"b")])
    host.receive(hub.heartbeat())  # a and b acked
    lost = host.send(b"c")
    del lost
    # The hub restarts (new epoch): it never saw c; the host resends it, it is delivered.
    new_hub = ReliableChannel(clock, epoch="hub-2")
    frames = host.resend_all()
    assert [f.seq for f in frames] == [3]
    assert deliver(new_hub, frames) == [b"c"]
    # The host sees the hub's new epoch: a restart; acks of the old epoch mean nothing.
    received = host.receive(new_hub.heartbeat())
    assert received.peer_restarted
    assert host.unacked == 0


def test_a_restarted_sender_is_a_new_stream() -> None:
    clock = FakeClock()
    host, hub = pair(clock)
    deliver(hub, [host.send(b"a"), host.send(b"b")])
    new_host = ReliableChannel(clock, epoch="host-2")
    first = hub.receive(new_host.send(b"x"))
    assert first.peer_restarted
    assert first.bodies == (b"x",)


def test_an_ack_for_another_epoch_is_ignored() -> None:
    clock = FakeClock()
    host, _ = pair(clock)
    host.send(b"a")
    stale = LinkFrame(epoch="hub-1", ack=5, ack_epoch="host-0")
    host.receive(stale)
    assert host.unacked == 1


def test_frames_given_up_past_the_bound_do_not_wedge_the_receiver() -> None:
    clock = FakeClock()
    host = ReliableChannel(clock, epoch="host-1", max_unacked=2)
    hub = ReliableChannel(clock, epoch="hub-1")
    deliver(hub, [host.send(b"a")])
    host.receive(hub.heartbeat())
    for body in (b"b", b"c", b"d"):
        host.send(body)  # none arrives; b is given up
    assert host.dropped == 1
    assert deliver(hub, host.resend_all()) == [b"c", b"d"]


def test_liveness_counts_silence_and_backs_off_reconnects() -> None:
    clock = FakeClock()
    live = LinkLiveness(clock, interval=1.0, liveness=3, backoff=Backoff(base=0.5, cap=8.0))
    live.last_heard = clock()
    assert not live.should_reconnect()
    assert live.heard()  # the first frame brings the link up
    assert not live.heard()
    clock.advance(3.0)
    assert not live.expired()
    clock.advance(0.1)
    assert live.should_reconnect()  # down now, once
    assert not live.up and not live.expired()
    assert live.schedule_reconnect() == clock() + 0.5
    assert not live.should_reconnect()
    clock.advance(0.5)
    assert live.reconnect_due()
    live.reconnect_at = None  # reconnected; silence again
    clock.advance(3.1)
    assert live.should_reconnect()
    assert live.schedule_reconnect() == clock() + 1.0  # backing off
    live.heard()
    assert live.retries == 0 and live.reconnect_at is None


def test_heartbeat_due_when_nothing_was_sent_for_an_interval() -> None:
    clock = FakeClock()
    live = LinkLiveness(clock, interval=1.0)
    live.sent()
    assert not live.heartbeat_due()
    clock.advance(1.0)
    assert live.heartbeat_due()
    assert live.next_deadline() == clock()
