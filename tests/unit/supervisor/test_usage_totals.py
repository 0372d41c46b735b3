"""Per-session token totals: counted once per turn (a worker resends a turn until it is
acknowledged), kept across a restart of the supervisor, clamped, forgotten with the
session; the answer carries the turn's usage for the optional footer."""

from __future__ import annotations

from pathlib import Path

from vai.protocol.messages import PostReply, TurnEnded, WorkerHello
from vai.protocol.usage import TurnUsage
from vai.supervisor.config import DiscordSection
from vai.supervisor.inbox import Inbox
from vai.supervisor.switchboard import Switchboard

CHANNEL = 1001


def usage(inp: int, out: int, context: int = 0, cost: float | None = None) -> TurnUsage:
    return TurnUsage(
        input_tokens=inp,
        output_tokens=out,
        cache_read_tokens=10 * inp,
        cache_write_tokens=2,
        api_calls=1,
        context_tokens=context,
        cost_usd=cost,
    )


def test_a_resent_turn_counts_once_and_totals_survive_a_restart(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "inbox.sqlite3")
    switchboard = Switchboard(inbox, DiscordSection(), None)
    switchboard.add_session(1, CHANNEL)
    switchboard.from_worker(1, WorkerHello(session=1, pid=2, ready=True))
    first = TurnEnded(session=1, turn_id="t1", text="one", usage=usage(100, 5, context=1000))
    switchboard.from_worker(1, first)
    switchboard.from_worker(1, first)  # resent before the ack arrived
    switchboard.from_worker(1, TurnEnded(session=1, turn_id="t2", text="", usage=usage(7, 3, 9)))
    switchboard.from_worker(1, TurnEnded(session=1, turn_id="t3", text="no usage"))
    inbox.close()
    again = Inbox(tmp_path / "inbox.sqlite3")
    totals = again.usage_totals()[1]
    assert totals.turns == 2
    assert (totals.input_tokens, totals.output_tokens) == (107, 8)
    assert (totals.cache_read_tokens, totals.cache_write_tokens) == (1070, 4)
    assert totals.tokens_in == 107 + 1070 + 4
    assert totals.context_tokens == 9  # the latest turn's
    assert totals.cost_usd is None  # the CLI reported none: none is invented
    reply = again.unposted_replies()[0]
    assert isinstance(reply, PostReply) and reply.usage == first.usage
    again.close()


def test_costs_add_up_where_reported_and_a_removed_session_starts_again(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "inbox.sqlite3")
    inbox.add_usage(1, "a", usage(1, 1, cost=0.25))
    inbox.add_usage(1, "b", usage(1, 1))
    inbox.add_usage(2, "a", usage(3, 3))  # same turn id, another session: its own
    assert inbox.usage_totals()[1].cost_usd == 0.25
    assert inbox.usage_totals()[2].turns == 1
    inbox.forget_session(1, CHANNEL)
    assert 1 not in inbox.usage_totals() and 2 in inbox.usage_totals()
    inbox.close()


def test_numbers_from_a_worker_are_clamped(tmp_path: Path) -> None:
    inbox = Inbox(tmp_path / "inbox.sqlite3")
    hostile = TurnUsage(input_tokens=-5, output_tokens=10**30, cost_usd=float("nan"))
    inbox.add_usage(1, "x" * 10_000, hostile)
    totals = inbox.usage_totals()[1]
    assert totals.input_tokens == 0 and totals.output_tokens == 10**10
    assert totals.cost_usd is None
    inbox.close()
