"""Tool progress: one message per turn, edited as tools run, never a flood.

`ProgressBoard` is the pure part: it folds ToolProgress events into each turn's steps and
renders them under Discord's limit. `ProgressMessages` posts the turn's message on its
first tool and edits it after; edits coalesce (a burst of tools is one edit) and are
spaced at least `min_interval` apart; they are optional work, dropped while Discord
pushes back, and the final state is always written when the turn ends.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import discord

from vai.gateway.mentions import post_mentions
from vai.gateway.outbound import Outbound, Shed
from vai.gateway.replies import nonce_for
from vai.protocol.messages import ToolProgress
from vai.protocol.text import DISCORD_LIMIT

log = logging.getLogger("gateway.progress")

SHOWN_STEPS = 8
SUMMARY_LIMIT = 120


@dataclass
class Step:
    tool: str
    summary: str
    done: bool = False


@dataclass
class TurnProgress:
    session: int
    turn_id: str
    channel_id: int
    steps: list[Step] = field(default_factory=list)
    finished: bool = False
    version: int = 0
    message_id: int | None = None
    shown_version: int = -1
    last_edit: float = float("-inf")
    timer_set: bool = False

    @property
    def key(self) -> str:
        return f"progress:{self.session}:{self.turn_id}"


def _clip(text: str, limit: int) -> str:
    flat = " ".join(text.split()).replace("`", "'")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class ProgressBoard:
    """Every open turn's steps; pure."""

    def __init__(self, keep_finished: int = 64) -> None:
        self.turns: dict[tuple[int, str], TurnProgress] = {}
        self._finished: collections.deque[tuple[int, str]] = collections.deque()
        self.keep_finished = keep_finished

    def update(self, event: ToolProgress) -> TurnProgress | None:
        """Fold one event in; None if it changed nothing to show (an unknown finished turn)."""
        key = (event.session, event.turn_id)
        turn = self.turns.get(key)
        if turn is None:
            turn = self.turns[key] = TurnProgress(event.session, event.turn_id, event.channel_id)
        if turn.finished:
            return None
        tool = _clip(event.tool_name or "tool", 40)
        summary = _clip(event.summary, SUMMARY_LIMIT)
        if event.done:
            for step in reversed(turn.steps):
                if step.tool == tool and not step.done:
                    step.done = True
                    if summary and not step.summary:
                        step.summary = summary
                    break
            else:
                turn.steps.append(Step(tool, summary, done=True))
        else:
            turn.steps.append(Step(tool, summary))
        turn.version += 1
        return turn

    def others_open(self, session: int, turn_id: str) -> list[TurnProgress]:
        """Earlier turns of the session still open (their end was never seen)."""
        return [
            t for t in self.turns.values() if t.session == session and t.turn_id != turn_id
            and not t.finished
        ]  # fmt: skip

    def finish_channel(self, channel_id: int) -> list[TurnProgress]:
        """The channel's turn ended: every open turn of it is finished."""
        finished = []
        for turn in self.turns.values():
            if turn.channel_id == channel_id and not turn.finished:
                finished.append(self.finish(turn))
        return finished

    def finish(self, turn: TurnProgress) -> TurnProgress:
        turn.finished = True
        turn.version += 1
        self._finished.append((turn.session, turn.turn_id))
        while len(self._finished) > self.keep_finished:
            self.turns.pop(self._finished.popleft(), None)
        return turn

    @staticmethod
    def render(turn: TurnProgress) -> str:
        count = len(turn.steps)
        noun = "step" if count == 1 else "steps"
        head = f"✅ Done: {count} {noun}" if turn.finished else f"⚙️ Working: {count} {noun}"
        lines = [head]
        hidden = max(0, count - SHOWN_STEPS)
        if hidden:
            lines.append(f"… {hidden} earlier")
        for step in turn.steps[hidden:]:
            mark = "✓" if step.done else ("✗" if turn.finished else "⏳")
            detail = f" `{step.summary}`" if step.summary else ""
            lines.append(f"{mark} **{step.tool}**{detail}")
        text = "\n".join(lines)
        return text if len(text) <= DISCORD_LIMIT else text[: DISCORD_LIMIT - 1] + "…"


class ProgressMessages:
    """Posts and edits each turn's progress message through the outbound queue."""

    def __init__(
        self,
        client: discord.Client,
        outbound: Outbound,
        *,
        enabled: bool = True,
        min_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.outbound = outbound
        self.enabled = enabled
        self.min_interval = min_interval
        self.clock = clock
        self.board = ProgressBoard()
        self._timers: set[asyncio.TimerHandle] = set()

    def on_tool(self, event: ToolProgress) -> None:
        if not self.enabled or not event.channel_id:
            return
        for stale in self.board.others_open(event.session, event.turn_id):
            self._schedule(self.board.finish(stale))
        turn = self.board.update(event)
        if turn is not None:
            self._schedule(turn)

    def on_turn_end(self, channel_id: int) -> None:
        for turn in self.board.finish_channel(channel_id):
            self._schedule(turn)

    def _schedule(self, turn: TurnProgress) -> None:
        self.outbound.submit(turn.channel_id, lambda: self._sync(turn), key=turn.key)

    async def _sync(self, turn: TurnProgress) -> None:
        if turn.shown_version >= turn.version:
            return
        channel = self.client.get_partial_messageable(turn.channel_id)
        version, text = turn.version, ProgressBoard.render(turn)
        try:
            if turn.message_id is None:
                message = await self.outbound.call(
                    lambda: channel.send(
                        text,
                        nonce=nonce_for(turn.key, 0),
                        silent=True,
                        allowed_mentions=post_mentions(),
                    ),
                    what=f"progress for turn {turn.turn_id}",
                    optional=not turn.finished,
                )
                turn.message_id = message.id
            else:
                wait = turn.last_edit + self.min_interval - self.clock()
                if wait > 0 and not turn.finished:
                    self._later(wait, turn)
                    return
                partial = channel.get_partial_message(turn.message_id)
                await self.outbound.call(
                    lambda: partial.edit(content=text, allowed_mentions=post_mentions()),
                    what=f"progress edit for turn {turn.turn_id}",
                    optional=not turn.finished,
                )
            turn.last_edit = self.clock()
            turn.shown_version = version
        except Shed:
            log.debug("progress for turn %s skipped: Discord is pushing back", turn.turn_id)
        except discord.HTTPException as exc:
            log.warning("progress for turn %s not shown: %s", turn.turn_id, exc)
            turn.shown_version = turn.version  # do not keep hammering a failing message

    def _later(self, delay: float, turn: TurnProgress) -> None:
        if turn.timer_set:
            return
        turn.timer_set = True
        loop = asyncio.get_running_loop()

        def fire() -> None:
            self._timers.discard(handle)
            turn.timer_set = False
            self._schedule(turn)

        handle = loop.call_later(delay, fire)
        self._timers.add(handle)

    def close(self) -> None:
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
