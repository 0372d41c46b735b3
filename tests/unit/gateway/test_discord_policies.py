"""The gateway's pure parts: reply plans, uploads, progress, choices, pacing and retries."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest

from tests.support.clock import FakeClock
from vai.common.uploads import MIB, safe_filename, upload_problem
from vai.gateway.choice_book import ChoiceBook, parse_custom_id, token_for
from vai.gateway.outbound import Outbound, Shed
from vai.gateway.pacer import InvalidRequestGuard, Pacer, retry_after
from vai.gateway.progress import SHOWN_STEPS, ProgressBoard
from vai.gateway.replies import nonce_for, plan_reply
from vai.protocol.messages import ChoiceRequest, PostReply, ToolProgress
from vai.protocol.text import DISCORD_LIMIT
from vai.worker.standin.cli import long_answer

# -- replies ----------------------------------------------------------------------------------


def test_a_4500_character_answer_is_split_without_breaking_its_code_block() -> None:
    text = long_answer(4500)
    assert len(text) == 4500 and "```python" in text
    parts = plan_reply(PostReply(reply_id="r", channel_id=1, text=text, reference_message_id=7))
    assert len(parts) >= 3
    assert all(p.text is not None and len(p.text) <= DISCORD_LIMIT for p in parts)
    for part in parts:
        assert part.text is not None
        assert part.text.count("```") % 2 == 0, "each message opens and closes its fences"
    assert parts[0].reference == 7 and all(p.reference is None for p in parts[1:])
    assert len({p.nonce for p in parts}) == len(parts)
    assert [p.nonce for p in parts] == [nonce_for("r", i) for i in range(1, len(parts) + 1)]
    joined = "".join(p.text or "" for p in parts)
    assert "print(0)" in joined and joined.count("code line") == text.count("code line")


def test_an_answer_too_long_for_a_few_messages_goes_as_a_file() -> None:
    text = long_answer(20_000)
    parts = plan_reply(PostReply(reply_id="r", channel_id=1, text=text), max_messages=4)
    assert len(parts) == 1
    attachment = parts[0].attachment
    assert attachment is not None and attachment.filename == "answer.md"
    assert attachment.data == text.encode()
    assert parts[0].text is not None and "20,000 characters" in parts[0].text


def test_files_within_the_limit_are_attached_others_explained(tmp_path: Path) -> None:
    small = tmp_path / "report\nfinal.txt"
    small.write_bytes(b"x" * 100)
    parts = plan_reply(PostReply(reply_id="r", channel_id=1, text="here", file_path=str(small)))
    assert len(parts) == 1 and parts[0].text == "here"
    assert parts[0].attachment is not None
    assert parts[0].attachment.filename == "report_final.txt"  # no newline for aiohttp

    big = tmp_path / "big.bin"
    with big.open("wb") as f:
        f.truncate(11 * MIB)
    parts = plan_reply(PostReply(reply_id="r", channel_id=1, file_path=str(big)))
    assert len(parts) == 1 and parts[0].attachment is None
    assert parts[0].text is not None and "11.0 MiB" in parts[0].text
    assert "10.0 MiB" in parts[0].text

    gone = plan_reply(PostReply(reply_id="r", channel_id=1, file_path=str(tmp_path / "nope")))
    assert gone[0].text is not None and "does not exist" in gone[0].text
    folder = plan_reply(PostReply(reply_id="r", channel_id=1, file_path=str(tmp_path)))
    assert folder[0].text is not None and "not a regular file" in folder[0].text
    assert plan_reply(PostReply(reply_id="r", channel_id=1, text="  ")) == []


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("notes.txt", "notes.txt"),
        ("../../etc/passwd", "passwd"),
        ("a\x00b\nc.txt", "a_b_c.txt"),
        ("..", "file"),
        ("   ", "file"),
        ('con"fig*.py', "con_fig_.py"),
        ("x" * 300 + ".tar", "x" * 96 + ".tar"),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


def test_upload_problem_is_what_dp_is_told(tmp_path: Path) -> None:
    ok = tmp_path / "ok.txt"
    ok.write_text("fine")
    assert upload_problem(str(ok)) == ""
    assert "is 4 bytes, over Discord's" in upload_problem(str(ok), limit=1)
    fake = os.stat_result((0o100644, 0, 0, 1, 0, 0, 30 * MIB, 0, 0, 0))
    assert "30.0 MiB" in upload_problem("/x/huge.iso", stat=lambda _: fake)


# -- progress -----------------------------------------------------------------------------------


def tool(name: str, summary: str = "", done: bool = False, turn: str = "t1") -> ToolProgress:
    return ToolProgress(
        session=1, turn_id=turn, tool_name=name, summary=summary, channel_id=10, done=done
    )


def test_progress_board_folds_tools_into_one_turn() -> None:
    board = ProgressBoard()
    board.update(tool("Read", "src/app.py"))
    board.update(tool("Read", done=True))
    turn = board.update(tool("Bash", "pytest -q\n--maxfail=1"))
    assert turn is not None and turn.version == 3
    text = ProgressBoard.render(turn)
    assert text.splitlines() == [
        "⚙️ Working: 2 steps",
        "✓ **Read** `src/app.py`",
        "⏳ **Bash** `pytest -q --maxfail=1`",
    ]
    board.finish_channel(10)
    done = ProgressBoard.render(turn)
    assert done.startswith("✅ Done: 2 steps") and "✗ **Bash**" in done
    assert board.update(tool("Edit")) is None  # a finished turn stays finished


def test_progress_shows_the_latest_steps_under_the_limit() -> None:
    board = ProgressBoard()
    turn = None
    for i in range(50):
        turn = board.update(tool("Bash", f"step {i} " + "y" * 300, done=False))
    assert turn is not None
    text = ProgressBoard.render(turn)
    assert len(text) <= DISCORD_LIMIT
    assert f"… {50 - SHOWN_STEPS} earlier" in text and "step 49" in text
    others = board.others_open(1, "t2")
    assert others == [turn]


# -- choices ------------------------------------------------------------------------------------


def request(**kw: Any) -> ChoiceRequest:
    base: dict[str, Any] = {
        "request_id": "perm-1",
        "session": 2,
        "kind": "permission",
        "text": "Bash: rm -rf build/",
        "options": ["Allow", "Deny"],
        "channel_id": 20,
        "timeout_s": 60.0,
    }
    return ChoiceRequest(**(base | kw))


def test_choice_book_answers_once_and_only_for_allowed_users() -> None:
    clock = FakeClock(0.0)
    book = ChoiceBook(clock, wall=lambda: 1_700_000_000.0)
    choice, new = book.offer(request())
    assert new and book.offer(request())[1] is False  # a re-offer is the same choice
    buttons = ChoiceBook.buttons(choice)
    assert [(b.label, b.style, b.disabled) for b in buttons] == [
        ("Allow", "success", False),
        ("Deny", "danger", False),
    ]
    assert parse_custom_id(buttons[1].custom_id) == (token_for("perm-1"), 1)
    assert "<t:1700000060:R>" in ChoiceBook.content(choice)

    refused = book.click(buttons[0].custom_id, allowed=False, user_name="mallory")
    assert refused.kind == "not_allowed" and not choice.closed
    answered = book.click(buttons[1].custom_id, allowed=True, user_name="alice_*")
    assert answered.kind == "answered" and answered.option == "Deny"
    assert "✅ **alice** chose **Deny**" in ChoiceBook.content(choice)
    after = ChoiceBook.buttons(choice)
    assert all(b.disabled for b in after)
    assert [b.style for b in after] == ["secondary", "danger"]
    assert book.click(buttons[0].custom_id, allowed=True, user_name="bob").kind == "closed"
    assert book.click("vai:c:nothing:0", allowed=True, user_name="x").kind == "unknown"
    assert book.click(buttons[0].custom_id[:-1] + "9", allowed=True, user_name="x").kind == (
        "unknown"
    )


def test_choice_book_expires_requests() -> None:
    clock = FakeClock(0.0)
    book = ChoiceBook(clock)
    choice, _ = book.offer(request(timeout_s=120))
    assert book.next_expiry() == 120.0 and book.due() == []
    clock.now = 120.0
    assert book.due() == [choice]
    assert "No answer within 2 min" in ChoiceBook.content(choice)
    assert book.next_expiry() is None
    # A click that beats the timer after the deadline finds it expired.
    late, _ = book.offer(request(request_id="q-2", kind="question", options=["A", "B"]))
    clock.now = 1000.0
    assert book.click(ChoiceBook.buttons(late)[0].custom_id, allowed=True, user_name="a").kind == (
        "closed"
    )
    assert [b.style for b in ChoiceBook.buttons(late)] == ["secondary", "secondary"]


def test_choice_with_many_options_shows_25_buttons() -> None:
    book = ChoiceBook(FakeClock(0.0))
    choice, _ = book.offer(request(options=[f"option {i}" for i in range(30)], kind="question"))
    assert len(ChoiceBook.buttons(choice)) == 25
    assert "5 more options" in ChoiceBook.content(choice)


# -- pacing and the invalid-request count --------------------------------------------------------


def test_invalid_request_guard_counts_like_discord() -> None:
    guard = InvalidRequestGuard(warn=2, shed=3, halt=4, window=600)
    assert not guard.record(0.0, 200)
    assert not guard.record(0.0, 404)
    assert not guard.record(0.0, 429, "shared")  # shared-scope 429s do not count
    for status in (401, 403, 429):
        assert guard.record(1.0, status)
    assert guard.level(1.0) == "shed"
    guard.record(2.0, 429)
    assert guard.level(2.0) == "halt"
    assert guard.halt_wait(2.0) == pytest.approx(599.0)
    assert guard.level(601.0) == "ok" and guard.count(601.0) == 1  # three left the window
    assert guard.count(700.0) == 0 and guard.total == 4


def test_pacer_spaces_requests_and_honours_pauses() -> None:
    clock = FakeClock(0.0)

    async def scenario() -> None:
        pacer = Pacer(rate=10.0, burst=2, clock=clock, sleep=clock.sleep)
        for _ in range(4):
            await pacer.acquire()
        assert clock.now == pytest.approx(0.2)  # two at once, then 10/s
        pacer.pause(5.0, "test")
        assert pacer.shedding()
        await pacer.acquire()
        assert clock.now == pytest.approx(5.2)
        pacer.observe(429, {"X-RateLimit-Global": "true", "Retry-After": "3"})
        assert pacer.paused_until == pytest.approx(8.2)
        assert pacer.stats.rate_limited == 1 and pacer.stats.invalid == 1
        pacer.observe(429, {"X-RateLimit-Scope": "shared", "Retry-After": "1"})
        assert pacer.stats.invalid == 1

    asyncio.run(scenario())


def test_pacer_lets_replies_go_before_queued_reactions() -> None:
    clock = FakeClock(0.0)

    async def sleep(seconds: float) -> None:
        await clock.sleep(seconds)
        await asyncio.sleep(0)  # like a real sleep, others run meanwhile

    async def scenario() -> None:
        pacer = Pacer(rate=10.0, burst=1, clock=clock, sleep=sleep)
        order: list[str] = []

        async def request(name: str, urgent: bool) -> None:
            await pacer.acquire(urgent)
            order.append(name)

        await pacer.acquire()  # the bucket is empty now: everyone below waits
        waiters = [asyncio.create_task(request(f"reaction {i}", False)) for i in range(3)]
        await asyncio.sleep(0)  # they queue up
        waiters += [asyncio.create_task(request(f"reply {i}", True)) for i in range(2)]
        await asyncio.gather(*waiters)
        # The replies overtake every reaction still queued, and keep their own order.
        assert order.index("reply 0") < order.index("reply 1")
        assert order[-2:] == ["reaction 1", "reaction 2"]
        assert clock.now == pytest.approx(0.5) and pacer.waiting == 0

    asyncio.run(scenario())


def test_pacer_applies_only_to_the_rest_api() -> None:
    pacer = Pacer()
    base = "https://discord.com/api/v10"
    assert pacer.paced(base + "/channels/1/messages", base)
    assert not pacer.paced(base + "/interactions/1/tok/callback", base)
    assert not pacer.paced(base + "/webhooks/1/tok", base)
    assert not pacer.paced("wss://gateway.discord.gg/?v=10", base)
    assert retry_after({"Retry-After": "2"}, 9) == 2.0
    assert retry_after({"X-RateLimit-Reset-After": "0.25", "Retry-After": "1"}, 9) == 0.25
    assert retry_after({}, 9) == 9


# -- the outbound rules -------------------------------------------------------------------------


class FakeResponse:
    def __init__(self, status: int, headers: dict[str, str]) -> None:
        self.status = status
        self.reason = "x"
        self.headers = headers


def http_error(status: int, headers: dict[str, str] | None = None) -> discord.HTTPException:
    return discord.HTTPException(FakeResponse(status, headers or {}), {"message": "no"})


def test_outbound_waits_out_a_429_without_via_then_retries_once() -> None:
    clock = FakeClock(0.0)

    async def scenario() -> None:
        pacer = Pacer(rate=0, clock=clock, sleep=clock.sleep)
        outbound = Outbound(pacer, sleep=clock.sleep)
        calls: list[float] = []

        async def post() -> str:
            await pacer.acquire()  # what the trace hook does inside discord.py
            calls.append(clock.now)
            if len(calls) == 1:
                raise http_error(429, {"Retry-After": "2"})
            return "posted"

        assert await outbound.call(post, what="reply") == "posted"
        assert calls == [0.0, 2.0]  # waited what the response asked, then once more

        async def typing() -> None:
            raise http_error(429, {"Retry-After": "4"})

        with pytest.raises(discord.HTTPException):
            await outbound.call(typing, what="typing", optional=True)  # not retried
        with pytest.raises(Shed):
            await outbound.call(typing, what="typing", optional=True)  # paused: shed

    asyncio.run(scenario())


def test_outbound_retries_dropped_connections_only_when_idempotent() -> None:
    clock = FakeClock(0.0)

    async def scenario() -> None:
        outbound = Outbound(Pacer(rate=0, clock=clock, sleep=clock.sleep), sleep=clock.sleep)
        attempts = 0

        async def flaky() -> int:
            nonlocal attempts
            attempts += 1
            if attempts < 3:
                raise aiohttp.ServerDisconnectedError()
            return attempts

        assert await outbound.call(flaky, what="post with nonce") == 3
        assert clock.slept == [0.5, 1.0]
        attempts = 0
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await outbound.call(flaky, what="post without nonce", idempotent=False)

        async def forbidden() -> None:
            raise http_error(403)

        with pytest.raises(discord.HTTPException):
            await outbound.call(forbidden, what="post")
        assert attempts == 1

    asyncio.run(scenario())
