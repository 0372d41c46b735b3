"""Token use in words: the answer footer and the `/usage` / `vai status --usage` lines."""

from __future__ import annotations

from vai.common.usage_view import format_count, totals_words, usage_footer, usage_lines
from vai.protocol.session_info import SessionInfo
from vai.protocol.session_settings import SessionSettings
from vai.protocol.usage import TurnUsage, UsageTotals

TURN = TurnUsage(
    input_tokens=3, cache_read_tokens=11000, cache_write_tokens=1200, output_tokens=340,
    api_calls=1, context_tokens=12203,
)  # fmt: skip


def test_counts_are_short() -> None:
    assert [format_count(n) for n in (0, 999, 1000, 1234, 12203, 3_400_000)] == [
        "0", "999", "1k", "1.2k", "12.2k", "3.4M",
    ]  # fmt: skip


def test_the_footer_shows_cost_and_context_share_only_when_known() -> None:
    assert usage_footer(TURN) == "-# 12.2k in · 340 out · context 12.2k"
    known = TurnUsage(
        input_tokens=1200, output_tokens=340, cost_usd=0.0042, context_tokens=120_000,
        context_window=1_000_000,
    )  # fmt: skip
    assert usage_footer(known) == "-# 1.2k in · 340 out · $0.004 · context 12%"


def test_usage_lines_name_each_session() -> None:
    totals = UsageTotals(
        turns=3, input_tokens=10, cache_read_tokens=33000, output_tokens=900, cost_usd=1.5,
        context_tokens=250_000, context_window=1_000_000,
    )  # fmt: skip
    sessions = [
        SessionInfo(session=1, channel_id=5, work_dir="/w", usage=totals),
        SessionInfo(
            session=2, channel_id=6, work_dir="/w", settings=SessionSettings(channel_id=6, name="x")
        ),
    ]
    assert usage_lines(sessions) == [
        "session 1: 3 turns · 33k in (33k cached) · 900 out · $1.50 · context 25% now",
        "session 2 (x): no turns counted yet",
    ]
    assert totals_words(None) == "no turns counted yet"
    assert usage_lines([]) == ["no sessions"]
