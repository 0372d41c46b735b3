"""worker/usage.py: a turn's tokens from the transcript's assistant lines (as the real CLI
writes them: one line per content block, the same message id and usage repeated), and
worker/effects.py waiting for the answer's line when the footer needs this turn's figures."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import msgspec

from tests.unit.worker.test_effects import effects
from vai.protocol.messages import TurnEnded
from vai.protocol.usage import TurnUsage
from vai.worker.session_state import SessionState
from vai.worker.turns.vocabulary import EndTurn
from vai.worker.usage import UsageReader, merged, read_usage


def assistant(msg_id: str, block: dict[str, object], inp: int, out: int) -> str:
    usage = {
        "input_tokens": inp,
        "cache_creation_input_tokens": 2000,
        "cache_read_input_tokens": 30000,
        "output_tokens": out,
        "service_tier": "standard",
    }
    message = {"id": msg_id, "model": "claude-opus-5-5", "content": [block], "usage": usage}
    return json.dumps({"type": "assistant", "message": message}) + "\n"


def text(value: str) -> dict[str, object]:
    return {"type": "text", "text": value}


TOOL: dict[str, object] = {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}
PROMPT = json.dumps({"type": "user", "message": {"role": "user", "content": "hi"}}) + "\n"


def test_each_api_call_counts_once_and_the_context_is_the_last_calls() -> None:
    data = (
        PROMPT
        + assistant("msg_a", text("running"), 1234, 77)
        + assistant("msg_a", TOOL, 1234, 77)  # the same response's second block
        + assistant("msg_b", text("tool said: hi"), 10, 5)
        + '{"type": "system", "subtype": "turn_duration"}\nnot json\n'
    ).encode()
    reading = read_usage(data)
    usage = reading.usage
    assert usage is not None and usage.api_calls == 2
    assert (usage.input_tokens, usage.output_tokens) == (1244, 82)
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (60000, 4000)
    assert usage.context_tokens == 10 + 30000 + 2000  # what the last request sent
    assert usage.tokens_in == 1244 + 60000 + 4000
    assert usage.cost_usd is None and usage.model == "claude-opus-5-5"
    assert reading.last_text == "tool said: hi"
    assert read_usage(PROMPT.encode()).usage is None


def test_hostile_numbers_are_not_counted() -> None:
    line = json.dumps(
        {
            "type": "assistant",
            "message": {
                "id": "m",
                "usage": {
                    "input_tokens": -5,
                    "output_tokens": "9",
                    "cache_read_input_tokens": 10**30,
                },
            },
        }
    )
    usage = read_usage(line.encode()).usage
    assert usage is not None and (usage.input_tokens, usage.output_tokens) == (0, 0)
    assert usage.cache_read_tokens == 10**10  # bounded: the turn still encodes
    assert msgspec.json.decode(msgspec.json.encode(usage), type=TurnUsage) == usage


def test_the_cursor_takes_whole_lines_once_and_starts_over_in_a_new_conversation(
    tmp_path: Path,
) -> None:
    path = tmp_path / "one.jsonl"
    state = SessionState()
    current = [path]
    reader = UsageReader(lambda: current[0])
    first = assistant("msg_a", text("one"), 100, 1)
    second = assistant("msg_b", text("two"), 200, 2)
    path.write_text(PROMPT + first + second[:40])  # the CLI is still writing the second
    taken = reader.take(state).usage
    assert taken is not None and taken.input_tokens == 100
    path.write_text(PROMPT + first + second)
    assert reader.peek(state).last_text == "two"
    taken = reader.take(state).usage
    assert taken is not None and taken.input_tokens == 200  # not 300: counted once
    assert reader.take(state).usage is None
    current[0] = tmp_path / "two.jsonl"  # /clear: a new transcript
    current[0].write_text(PROMPT + first)
    taken = reader.take(state).usage
    assert taken is not None and taken.input_tokens == 100
    assert state.usage_path == str(current[0])


def test_merged_adds_tokens_and_keeps_the_later_context() -> None:
    a = read_usage(assistant("msg_a", text("x"), 100, 1).encode()).usage
    b = read_usage(assistant("msg_b", text("y"), 7, 2).encode()).usage
    both = merged(a, b)
    assert both is not None and both.api_calls == 2 and both.input_tokens == 107
    assert both.context_tokens == 7 + 32000
    assert merged(None, b) == b and merged(a, None) == a


def run_turn(tmp_path: Path, wait: float, write_answer: bool) -> tuple[TurnEnded, SessionState]:
    done, out, _ = effects(tmp_path)
    transcript = tmp_path / "t.jsonl"
    transcript.write_text(PROMPT + assistant("msg_a", text("running"), 1000, 10))
    done.usage = UsageReader(lambda: transcript)
    done.usage_wait = wait

    def flush() -> None:  # what the CLI writes a moment after its Stop hook
        with transcript.open("a") as handle:
            handle.write(assistant("msg_b", text("the answer"), 50, 20))

    async def scenario() -> None:
        if write_answer:
            asyncio.get_running_loop().call_soon(flush)
        await done.apply([EndTurn("the answer", turn_id="t1", message_ids=(7,))])

    asyncio.run(scenario())
    sent = [m for m in out.log if isinstance(m, TurnEnded)]
    assert len(sent) == 1
    return sent[0], done.state


def test_the_answer_waits_for_its_last_call_when_the_footer_needs_it(tmp_path: Path) -> None:
    turn, state = run_turn(tmp_path, wait=5.0, write_answer=True)
    assert turn.usage is not None and turn.usage.api_calls == 2
    assert turn.usage.input_tokens == 1050 and turn.usage.output_tokens == 30
    assert state.unacked_turns[0].usage == turn.usage  # journaled as sent


def test_without_waiting_the_late_call_counts_with_the_next_turn(tmp_path: Path) -> None:
    turn, state = run_turn(tmp_path, wait=0.0, write_answer=False)
    assert turn.usage is not None and turn.usage.api_calls == 1
    with (tmp_path / "t.jsonl").open("a") as handle:
        handle.write(assistant("msg_b", text("the answer"), 50, 20))
    later = UsageReader(lambda: tmp_path / "t.jsonl").take(state).usage
    assert later is not None and later.input_tokens == 50  # nothing lost, nothing twice


def test_a_transcript_that_never_catches_up_does_not_hold_the_answer(tmp_path: Path) -> None:
    turn, _ = run_turn(tmp_path, wait=0.05, write_answer=False)
    assert turn.usage is not None and turn.usage.api_calls == 1


def test_the_resend_loop_does_not_send_a_turn_still_waiting_for_its_usage(
    tmp_path: Path,
) -> None:
    done, out, _ = effects(tmp_path)
    transcript = tmp_path / "t.jsonl"
    transcript.write_text(PROMPT + assistant("msg_a", text("running"), 1000, 10))
    done.usage = UsageReader(lambda: transcript)
    done.usage_wait = 5.0
    resent = asyncio.Event()

    async def resend_then_flush() -> None:
        await done.send_unacked_turns()  # what worker/main.py's resend loop does
        resent.set()
        with transcript.open("a") as handle:
            handle.write(assistant("msg_b", text("the answer"), 50, 20))

    async def scenario() -> None:
        task = asyncio.create_task(resend_then_flush())
        await done.apply([EndTurn("the answer", turn_id="t1", message_ids=(7,))])
        await task

    asyncio.run(scenario())
    assert resent.is_set()
    sent = [m for m in out.log if isinstance(m, TurnEnded)]
    assert len(sent) == 1 and sent[0].usage is not None and sent[0].usage.api_calls == 2
