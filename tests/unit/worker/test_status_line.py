"""The CLI's cost and context window from its statusLine readings: protocol/hooks.py
(a reading from the pane is untrusted: bounded), worker/status_line.py (a turn's cost is
the growth of the cumulative total; a new Claude counts from 0; journaled), and
worker/effects.py (with the footer on, the answer waits for a reading newer than the
turn's end; without, a late one counts with the next turn)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.unit.worker.test_effects import effects
from tests.unit.worker.test_usage import PROMPT, assistant, text
from vai.protocol.hooks import MAX_COST_USD, MAX_WINDOW, StatusLine, decode_status_line
from vai.protocol.messages import TurnEnded
from vai.worker.session_state import SessionState
from vai.worker.status_line import CostMeter
from vai.worker.turns.vocabulary import EndTurn
from vai.worker.usage import UsageReader


def reading(cost: object = 0.0, window: object = 200_000) -> StatusLine:
    data = {
        "session_id": "s",
        "prompt_id": "p",
        "cost": {"total_cost_usd": cost, "total_duration_ms": 5},
        "context_window": {"context_window_size": window, "used_percentage": 3},
        "model": {"id": "claude-opus-5-5"},
    }
    line = decode_status_line(json.dumps(data).encode())
    assert line is not None
    return line


def test_a_real_reading_decodes() -> None:
    line = reading(0.022476, 1_000_000)
    assert line.total_cost_usd == 0.022476 and line.window == 1_000_000


@pytest.mark.parametrize(
    ("cost", "expected"),
    [(-1.0, 0.0), (True, 0.0), ("5", 0.0), (None, 0.0), (1e300, MAX_COST_USD), (3, 3.0)],
)
def test_forged_costs_are_bounded(cost: object, expected: float) -> None:
    assert reading(cost=cost).total_cost_usd == expected


@pytest.mark.parametrize(
    ("window", "expected"), [(-5, 0), (10**30, MAX_WINDOW), ("big", 0), (2.5e5, 250_000)]
)
def test_forged_windows_are_bounded(window: object, expected: int) -> None:
    assert reading(window=window).window == expected


@pytest.mark.parametrize(
    "payload",
    [b"", b"not json", b"[1, 2]", b'{"cost": 5}', b'{"context_window": []}', b"[" * 100000],
)
def test_what_is_no_reading_is_dropped(payload: bytes) -> None:
    assert decode_status_line(payload) is None


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"1e999", b"-1e999"])
def test_what_is_not_finite_is_no_cost(number: bytes) -> None:
    line = decode_status_line(b'{"cost": {"total_cost_usd": ' + number + b"}}")
    assert line is None or line.total_cost_usd == 0.0


def test_a_turn_is_charged_the_growth_and_a_new_claude_counts_from_zero() -> None:
    state, meter = SessionState(), CostMeter()
    assert meter.count(state) is None  # no reading yet: the CLI reported nothing
    meter.take_reading(reading(0.0), pane_pid=100)  # start-up
    assert meter.count(state).cost_usd is None  # type: ignore[union-attr]  # nothing grew
    meter.take_reading(reading(0.02), pane_pid=100)
    first = meter.count(state)
    assert first is not None and first.cost_usd == pytest.approx(0.02) and first.window == 200_000
    meter.take_reading(reading(0.05), pane_pid=100)
    assert meter.count(state).cost_usd == pytest.approx(0.03)  # type: ignore[union-attr]
    assert meter.count(state).cost_usd is None  # type: ignore[union-attr]  # not twice
    meter.take_reading(reading(0.01), pane_pid=200)  # Claude started again: from 0
    assert meter.count(state).cost_usd == pytest.approx(0.01)  # type: ignore[union-attr]
    meter.take_reading(reading(0.004), pane_pid=200)  # lower than counted (a reset)
    assert meter.count(state).cost_usd == pytest.approx(0.004)  # type: ignore[union-attr]


def test_a_new_worker_neither_loses_nor_doubles_a_cost() -> None:
    state, meter = SessionState(), CostMeter()
    meter.take_reading(reading(0.02), pane_pid=100)
    meter.count(state)
    journal = SessionState(cost_pid=state.cost_pid, cost_counted=state.cost_counted)
    after = CostMeter()  # the next worker, same Claude (same pane process)
    after.take_reading(reading(0.05), pane_pid=100)
    assert after.count(journal).cost_usd == pytest.approx(0.03)  # type: ignore[union-attr]


def test_a_reading_without_cost_charges_nothing() -> None:
    line = decode_status_line(b'{"context_window": {"context_window_size": 1000}}')
    assert line is not None
    meter = CostMeter()
    meter.take_reading(line, pane_pid=1)
    count = meter.count(SessionState())
    assert count is not None and count.cost_usd is None and count.window == 1000


def run_turn(tmp_path: Path, wait: float, late: bool) -> tuple[TurnEnded, SessionState]:
    """One turn whose transcript is complete at Stop; its reading comes after (`late`)."""
    done, out, _ = effects(tmp_path)
    transcript = tmp_path / "t.jsonl"
    transcript.write_text(PROMPT + assistant("msg_a", text("the answer"), 1000, 10))
    done.usage = UsageReader(lambda: transcript)
    done.usage_wait = wait
    done.costs.take_reading(reading(0.0), pane_pid=7)  # the start-up reading

    async def scenario() -> None:
        if late:
            loop = asyncio.get_running_loop()
            loop.call_later(0.05, done.costs.take_reading, reading(0.012), 7)
        await done.apply([EndTurn("the answer", turn_id="t1", message_ids=(7,))])

    asyncio.run(scenario())
    sent = [m for m in out.log if isinstance(m, TurnEnded)]
    assert len(sent) == 1
    return sent[0], done.state


def test_with_the_footer_the_answer_waits_for_a_newer_reading(tmp_path: Path) -> None:
    turn, state = run_turn(tmp_path, wait=5.0, late=True)
    assert turn.usage is not None
    assert turn.usage.cost_usd == pytest.approx(0.012) and turn.usage.context_window == 200_000
    assert turn.usage.context_tokens == 33000 and turn.usage.api_calls == 1
    assert state.unacked_turns[0].usage == turn.usage  # journaled as sent
    assert state.cost_counted == pytest.approx(0.012)


def test_without_waiting_a_late_reading_counts_with_the_next_turn(tmp_path: Path) -> None:
    turn, state = run_turn(tmp_path, wait=0.0, late=False)
    assert turn.usage is not None and turn.usage.cost_usd is None  # no "$0.0000"
    meter = CostMeter()
    meter.take_reading(reading(0.012), pane_pid=7)
    assert meter.count(state).cost_usd == pytest.approx(0.012)  # type: ignore[union-attr]


def test_a_reading_that_never_comes_does_not_hold_the_answer(tmp_path: Path) -> None:
    turn, _ = run_turn(tmp_path, wait=0.05, late=False)
    assert turn.usage is not None and turn.usage.cost_usd is None
