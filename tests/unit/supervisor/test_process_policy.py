"""The supervision state machine, driven by a fake clock: no processes, no sleeps."""

from __future__ import annotations

import random

import pytest

from tests.support.clock import FakeClock
from vai.common.backoff import Backoff
from vai.supervisor.process_policy import (
    Action,
    IllegalTransition,
    ProcessPolicy,
    State,
    Transition,
)


def state_of(policy: ProcessPolicy) -> State:
    """Read the state through a call, so the type checker does not pin it between events."""
    return policy.state


def make(clock: FakeClock, **kwargs: object) -> tuple[ProcessPolicy, list[Transition]]:
    seen: list[Transition] = []
    backoff = Backoff(base=1.0, cap=30.0, jitter=0.0)
    policy = ProcessPolicy(clock=clock, backoff=backoff, on_transition=seen.append, **kwargs)  # type: ignore[arg-type]
    return policy, seen


def test_running_only_after_ready_and_start_secs() -> None:
    clock = FakeClock()
    policy, _ = make(clock, start_secs=0.5)
    assert policy.start() is Action.SPAWN
    assert state_of(policy) is State.STARTING
    clock.advance(1.0)
    policy.tick()
    assert state_of(policy) is State.STARTING  # alive but never said READY
    policy.ready()
    policy.tick()
    assert state_of(policy) is State.RUNNING


def test_failed_starts_back_off_exponentially_then_fatal() -> None:
    clock = FakeClock()
    policy, seen = make(clock, start_retries=3)
    policy.start()
    delays = []
    for _ in range(2):
        policy.exited("exit 1")
        assert state_of(policy) is State.BACKOFF
        assert policy.retry_at is not None
        delays.append(policy.retry_at - clock.now)
        clock.advance(delays[-1] - 0.01)
        assert policy.tick() is Action.NONE  # not yet
        clock.advance(0.01)
        assert policy.tick() is Action.SPAWN
    policy.exited("exit 1")
    assert delays == [1.0, 2.0]
    assert state_of(policy) is State.FATAL
    assert "gave up after 3" in seen[-1].reason
    clock.advance(3600)
    assert policy.tick() is Action.NONE  # FATAL stays until an operator acts
    assert policy.start("recover") is Action.SPAWN
    assert policy.failures == 0


def test_backoff_is_capped_and_jittered() -> None:
    backoff = Backoff(base=1.0, cap=4.0, jitter=0.1, rng=random.Random(1))
    delays = [backoff.delay(n) for n in range(1, 10)]
    assert all(0.9 <= d <= 4.4 for d in delays)
    assert max(delays) > 3.5
    assert len(set(delays)) == len(delays)


def test_death_after_quiet_period_restarts_at_once() -> None:
    clock = FakeClock()
    policy, _ = make(clock, quiet_period=10.0)
    policy.start()
    policy.ready()
    clock.advance(1)
    policy.tick()
    clock.advance(60)
    assert policy.exited("killed") is Action.SPAWN
    assert state_of(policy) is State.STARTING
    assert policy.failures == 0


def test_quick_deaths_after_running_back_off_but_never_go_fatal() -> None:
    clock = FakeClock()
    policy, _ = make(clock, quiet_period=10.0, start_retries=3)
    policy.start()
    delays = []
    for _ in range(6):
        policy.ready()
        clock.advance(1)
        policy.tick()
        assert state_of(policy) is State.RUNNING
        clock.advance(1)
        assert policy.exited("killed") is Action.NONE
        assert state_of(policy) is State.BACKOFF
        assert policy.retry_at is not None
        delays.append(policy.retry_at - clock.now)
        clock.now = policy.retry_at
        assert policy.tick() is Action.SPAWN
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0]


def test_a_failed_start_after_running_counts_toward_fatal_from_zero() -> None:
    clock = FakeClock()
    policy, _ = make(clock, start_retries=2)
    policy.start()
    policy.exited("exit 1")  # failed start 1
    clock.now = policy.retry_at or clock.now
    policy.tick()
    policy.ready()
    clock.advance(1)
    policy.tick()
    assert state_of(policy) is State.RUNNING  # proved itself: failures reset
    assert policy.failures == 0


def test_stop_kills_and_exit_ends_stopped() -> None:
    clock = FakeClock()
    policy, _ = make(clock)
    policy.start()
    assert policy.stop() is Action.KILL
    assert state_of(policy) is State.STOPPING
    assert policy.exited("signal 15") is Action.NONE
    assert state_of(policy) is State.STOPPED


def test_stop_during_backoff_cancels_the_retry() -> None:
    clock = FakeClock()
    policy, _ = make(clock)
    policy.start()
    policy.exited("exit 1")
    assert policy.stop() is Action.NONE
    assert state_of(policy) is State.STOPPED
    clock.advance(100)
    assert policy.tick() is Action.NONE


def test_hung_child_is_killed_and_its_exit_counts() -> None:
    clock = FakeClock()
    policy, _ = make(clock)
    policy.start()
    assert policy.hung("no heartbeat for 5s") is Action.KILL
    policy.exited("killed")
    assert state_of(policy) is State.BACKOFF


def test_illegal_transition_is_refused() -> None:
    clock = FakeClock()
    policy, _ = make(clock)
    with pytest.raises(IllegalTransition):
        policy._move(State.RUNNING, "skip the start")


def test_next_deadline_tells_the_loop_when_to_wake() -> None:
    clock = FakeClock()
    policy, _ = make(clock, start_secs=0.5)
    policy.start()
    assert policy.next_deadline() is None
    policy.ready()
    assert policy.next_deadline() == pytest.approx(clock.now + 0.5)
    clock.advance(0.5)
    policy.tick()
    policy.exited("crash")
    assert policy.next_deadline() == policy.retry_at


def test_a_configuration_error_is_fatal_at_once_with_its_reason() -> None:
    clock = FakeClock()
    policy, seen = make(clock, start_retries=3)
    policy.start()
    reason = "Discord refused the bot token"
    assert policy.exited_unfixable(reason) is Action.NONE
    assert state_of(policy) is State.FATAL
    assert reason in seen[-1].reason and "only the operator" in seen[-1].reason
    assert policy.next_deadline() is None
    clock.advance(3600)
    assert policy.tick() is Action.NONE  # never retried by itself
    assert policy.start("recover") is Action.SPAWN  # the operator's recover clears it


def test_a_configuration_error_after_running_is_fatal_too() -> None:
    clock = FakeClock()
    policy, _ = make(clock, quiet_period=10.0)
    policy.start()
    policy.ready()
    clock.advance(1)
    policy.tick()
    clock.advance(60)  # long after the quiet period: a plain exit would restart at once
    assert policy.exited_unfixable("the Message Content intent is off") is Action.NONE
    assert state_of(policy) is State.FATAL
    assert policy.last_reason.startswith("the Message Content intent is off")


def test_a_configuration_error_while_stopping_just_stops() -> None:
    clock = FakeClock()
    policy, _ = make(clock)
    policy.start()
    policy.stop("operator")
    assert policy.exited_unfixable("bad token") is Action.NONE
    assert state_of(policy) is State.STOPPED
