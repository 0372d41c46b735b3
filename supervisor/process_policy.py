"""When to start, restart or give up on a child process: a pure state machine.

States follow supervisord. A child is RUNNING only after it said READY and stayed up
`start_secs`. A child that dies before that is a failed start: it waits in BACKOFF
(exponential, jittered, capped) and after `start_retries` failed starts in a row it is
FATAL until an operator recovers it. A child that dies after running is not a failed
start: after a quiet period it restarts at once; sooner, it backs off with growing delays,
so a crash loop cannot become a restart storm, yet outside kills never make it FATAL.
A child that exits saying its configuration is wrong (EXIT_CONFIG) is FATAL at once:
restarting it cannot help, only the operator can.
The clock and the random source are injected, so every timing rule is tested without
processes or sleeps.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from vai.common.backoff import Backoff
from vai.protocol.messages import ProcessState


class State(enum.Enum):
    STOPPED = "STOPPED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    BACKOFF = "BACKOFF"
    STOPPING = "STOPPING"
    EXITED = "EXITED"
    FATAL = "FATAL"


def wire_state(state: State) -> ProcessState:
    """The state as the protocol spells it."""
    return state.value


class Action(enum.Enum):
    NONE = "none"
    SPAWN = "spawn"
    KILL = "kill"


_ALLOWED: dict[State, set[State]] = {
    State.STOPPED: {State.STARTING},
    State.STARTING: {State.RUNNING, State.BACKOFF, State.FATAL, State.STOPPING},
    State.RUNNING: {State.STARTING, State.BACKOFF, State.STOPPING, State.EXITED, State.FATAL},
    State.BACKOFF: {State.STARTING, State.STOPPED, State.FATAL},
    State.STOPPING: {State.STOPPED},
    State.EXITED: {State.STARTING, State.STOPPED},
    State.FATAL: {State.STARTING, State.STOPPED},
}


@dataclass
class Transition:
    old: State
    new: State
    reason: str


class IllegalTransition(RuntimeError):
    pass


class ProcessPolicy:
    """The supervision rules for one child (a worker or the gateway)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        start_retries: int = 3,
        start_secs: float = 0.5,
        quiet_period: float = 10.0,
        backoff: Backoff | None = None,
        on_transition: Callable[[Transition], None] | None = None,
    ) -> None:
        self._clock = clock
        self.start_retries = start_retries
        self.start_secs = start_secs
        self.quiet_period = quiet_period
        self.backoff = backoff or Backoff(jitter=0.1)
        self._on_transition = on_transition
        self.state = State.STOPPED
        self.failures = 0
        self.quick_exits = 0
        self.spawned_at: float | None = None
        self.ready_at: float | None = None
        self.running_since: float | None = None
        self.retry_at: float | None = None
        self.last_reason = ""

    # -- events --------------------------------------------------------------------------

    def start(self, reason: str = "start") -> Action:
        """Operator or boot start; clears FATAL and the failure counts."""
        if self.state in (State.STARTING, State.RUNNING, State.STOPPING):
            return Action.NONE
        self.failures = 0
        self.quick_exits = 0
        return self._spawn(reason)

    def ready(self) -> None:
        if self.state is State.STARTING and self.ready_at is None:
            self.ready_at = self._clock()

    def exited(self, how: str) -> Action:
        """The child is gone; decide what comes next."""
        now = self._clock()
        if self.state is State.STOPPING:
            self._move(State.STOPPED, how)
            return Action.NONE
        if self.state is State.RUNNING:
            ran = now - (self.running_since or now)
            if ran >= self.quiet_period:
                self.quick_exits = 0
                return self._spawn(f"{how}; restarting")
            self.quick_exits += 1
            self.retry_at = now + self.backoff.delay(self.quick_exits)
            wait = self.retry_at - now
            self._move(State.BACKOFF, f"{how} after {ran:.1f}s; retry in {wait:.1f}s")
            return Action.NONE
        if self.state is State.STARTING:
            self.failures += 1
            return self._back_off(now, how)
        return Action.NONE

    def exited_unfixable(self, how: str) -> Action:
        """The child is gone and said restarting cannot help (a configuration error):
        FATAL with `how` as the reason, until the operator recovers it."""
        if self.state is State.STOPPING:
            self._move(State.STOPPED, how)
        elif self.state in (State.STARTING, State.RUNNING):
            self._move(State.FATAL, f"{how}; not restarted: only the operator can fix it")
        return Action.NONE

    def stop(self, reason: str = "stop") -> Action:
        if self.state in (State.STARTING, State.RUNNING):
            self._move(State.STOPPING, reason)
            return Action.KILL
        if self.state in (State.BACKOFF, State.EXITED, State.FATAL):
            self._move(State.STOPPED, reason)
        return Action.NONE

    def hung(self, reason: str) -> Action:
        """Alive but silent: kill it; its exit then takes the normal path."""
        if self.state in (State.STARTING, State.RUNNING):
            self.last_reason = reason
            return Action.KILL
        return Action.NONE

    def tick(self) -> Action:
        """Advance time-driven rules; the caller runs this on every loop pass."""
        now = self._clock()
        if (
            self.state is State.STARTING
            and self.ready_at is not None
            and self.spawned_at is not None
            and now - self.spawned_at >= self.start_secs
        ):
            self.running_since = now
            self.failures = 0
            self._move(State.RUNNING, "ready")
        elif self.state is State.BACKOFF and self.retry_at is not None and now >= self.retry_at:
            return self._spawn(f"retry {self.failures}/{self.start_retries}")
        return Action.NONE

    # -- queries -------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        """When `tick` next has something to do, so the loop can sleep until then."""
        if self.state is State.BACKOFF:
            return self.retry_at
        if self.state is State.STARTING and self.ready_at is not None and self.spawned_at:
            return self.spawned_at + self.start_secs
        return None

    def uptime(self) -> float | None:
        if self.state is State.RUNNING and self.running_since is not None:
            return self._clock() - self.running_since
        return None

    # -- internals -----------------------------------------------------------------------

    def _spawn(self, reason: str) -> Action:
        self._move(State.STARTING, reason)
        self.spawned_at = self._clock()
        self.ready_at = None
        self.running_since = None
        self.retry_at = None
        return Action.SPAWN

    def _back_off(self, now: float, how: str) -> Action:
        if self.failures >= self.start_retries:
            self._move(State.FATAL, f"{how}; gave up after {self.failures} failed starts")
            return Action.NONE
        self.retry_at = now + self.backoff.delay(self.failures)
        self._move(State.BACKOFF, f"{how}; retry in {self.retry_at - now:.1f}s")
        return Action.NONE

    def _move(self, new: State, reason: str) -> None:
        old = self.state
        if new is not old and new not in _ALLOWED[old]:
            raise IllegalTransition(f"{old.value} -> {new.value} ({reason})")
        self.state = new
        self.last_reason = reason
        if self._on_transition is not None:
            self._on_transition(Transition(old, new, reason))
