"""Each session's token use, kept in the inbox's database so totals survive restarts.

One row per turn, keyed by (session, turn id): the worker resends a turn until it is
acknowledged, and a resent turn must not count twice. Totals are sums over the rows; the
context figures are the latest turn's. The numbers come from a worker, so they are
clamped to sane ranges before they are stored (a worker cannot make a total overflow).
"""

from __future__ import annotations

import math
import sqlite3
import time

from vai.protocol.usage import TurnUsage, UsageTotals

SCHEMA = """
CREATE TABLE IF NOT EXISTS turn_usage (
    session INTEGER NOT NULL,
    turn_id TEXT NOT NULL,
    input_tokens INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cache_read_tokens INTEGER NOT NULL,
    cache_write_tokens INTEGER NOT NULL,
    cost_usd REAL,
    context_tokens INTEGER NOT NULL,
    context_window INTEGER NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (session, turn_id)
);
"""
MAX_TOKENS = 10**10  # per turn: far beyond any context window
MAX_COST = 10**6


def _tokens(value: int) -> int:
    return min(max(value, 0), MAX_TOKENS)


def _cost(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return min(max(value, 0.0), MAX_COST)


class UsageBook:
    """The `turn_usage` table on the inbox's connection (the caller owns transactions)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        db.executescript(SCHEMA)

    def add(self, session: int, turn_id: str, usage: TurnUsage) -> bool:
        """Count one turn (once: False if it was counted already)."""
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO turn_usage VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                session,
                turn_id[:200],
                _tokens(usage.input_tokens),
                _tokens(usage.output_tokens),
                _tokens(usage.cache_read_tokens),
                _tokens(usage.cache_write_tokens),
                _cost(usage.cost_usd),
                _tokens(usage.context_tokens),
                _tokens(usage.context_window),
                time.time(),
            ),
        )
        return cursor.rowcount == 1

    def totals(self) -> dict[int, UsageTotals]:
        """Every session's totals (sessions with no counted turn are left out)."""
        rows = self._db.execute(
            "SELECT session, COUNT(*), SUM(input_tokens), SUM(output_tokens),"
            " SUM(cache_read_tokens), SUM(cache_write_tokens), SUM(cost_usd)"
            " FROM turn_usage GROUP BY session"
        ).fetchall()
        latest = dict(
            (session, (context, window))
            for session, context, window in self._db.execute(
                "SELECT session, context_tokens, context_window FROM turn_usage ORDER BY at, rowid"
            )
        )
        return {
            session: UsageTotals(
                turns=turns,
                input_tokens=inp,
                output_tokens=out,
                cache_read_tokens=read,
                cache_write_tokens=write,
                cost_usd=cost,
                context_tokens=latest[session][0],
                context_window=latest[session][1],
            )
            for session, turns, inp, out, read, write, cost in rows
        }

    def forget(self, session: int) -> None:
        """A removed session's turns (its number may be reused: a new one starts at 0)."""
        self._db.execute("DELETE FROM turn_usage WHERE session = ?", (session,))
