"""What tells a user where their message is: reactions, the typing indicator, short notices.

📥 when the supervisor has the message, ✅ when Claude accepted it as a prompt (or ran it,
for one of Claude Code's own slash commands, with a short reply of what it printed), ❌ and
a short reply saying why when it failed (or a flood over the rate limit refused it; ❌ in
place of ✅ when an API error ended its turn, whose post says why); ⏳
and a notice while a rate limit holds it back (taken away when it is sent);
the configured reaction (none by default) for people who may not talk to Claude.
Typing shows while Claude works, after its first second (Discord shows it 10 s per
request, so it is renewed), and stops with the answer, a question for the channel, or a
time limit. All of it goes through the outbound queue; typing is optional work, dropped
when Discord pushes back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import discord

from vai.gateway.mentions import post_mentions
from vai.gateway.outbound import Outbound, Shed
from vai.gateway.replies import nonce_for
from vai.protocol.messages import PromptProgress

log = logging.getLogger("gateway.feedback")

REACTION = {"received": "📥", "accepted": "✅", "done": "✅", "failed": "❌", "limited": "⏳"}
TYPING_LIMIT = 600.0
TYPING_EVERY = 8.0  # Discord shows typing for 10 s after each request
# A turn that ends sooner needs no indicator: one request fewer per message, which under a
# burst from many sessions is a quarter of the global rate limit.
TYPING_AFTER = 1.0


class TypingIndicators:
    def __init__(
        self,
        client: discord.Client,
        outbound: Outbound,
        *,
        limit: float = TYPING_LIMIT,
        every: float = TYPING_EVERY,
        after: float = TYPING_AFTER,
    ) -> None:
        self.client = client
        self.outbound = outbound
        self.limit = limit
        self.every = every
        self.after = after
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def active(self, channel_id: int) -> bool:
        task = self._tasks.get(channel_id)
        return task is not None and not task.done()

    def set(self, channel_id: int, active: bool) -> None:
        if active:
            if not self.active(channel_id):
                self._tasks[channel_id] = asyncio.create_task(self._type_in(channel_id))
            return
        task = self._tasks.pop(channel_id, None)
        if task is not None:
            task.cancel()

    async def _type_in(self, channel_id: int) -> None:
        await asyncio.sleep(self.after)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.limit):
                while True:
                    try:
                        await self.outbound.call(
                            lambda: self.client.http.send_typing(channel_id),
                            what=f"typing in {channel_id}",
                            optional=True,
                        )
                    except (Shed, discord.HTTPException) as exc:
                        log.debug("typing in %d skipped: %s", channel_id, exc)
                    await asyncio.sleep(self.every)

    def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()


class Feedback:
    def __init__(
        self, client: discord.Client, outbound: Outbound, typing: TypingIndicators
    ) -> None:
        self.client = client
        self.outbound = outbound
        self.typing = typing

    def react(self, channel_id: int, message_id: int, emoji: str) -> None:
        async def job() -> None:
            partial = self.client.get_partial_messageable(channel_id).get_partial_message(
                message_id
            )
            try:
                await self.outbound.call(
                    lambda: partial.add_reaction(emoji), what=f"reaction {emoji} on {message_id}"
                )
            except discord.HTTPException as exc:
                log.info("reaction %s on message %d failed: %s", emoji, message_id, exc)

        self.outbound.submit_mark(channel_id, job)

    def unreact(self, channel_id: int, message_id: int, emoji: str) -> None:
        """Take our own reaction back (⏳ once a waiting message is sent)."""

        async def job() -> None:
            partial = self.client.get_partial_messageable(channel_id).get_partial_message(
                message_id
            )
            me = self.client.user
            if me is None:
                return
            try:
                await self.outbound.call(
                    lambda: partial.remove_reaction(emoji, me),
                    what=f"removing {emoji} from {message_id}",
                )
            except discord.HTTPException as exc:
                log.info("removing %s from message %d failed: %s", emoji, message_id, exc)

        self.outbound.submit_mark(channel_id, job)

    def notice(self, channel_id: int, message_id: int, text: str, kind: str) -> None:
        """A short reply to a user's message (once per message and kind, by its nonce)."""

        async def job() -> None:
            channel = self.client.get_partial_messageable(channel_id)
            reference = discord.MessageReference(
                message_id=message_id, channel_id=channel_id, fail_if_not_exists=False
            )
            try:
                await self.outbound.call(
                    lambda: channel.send(
                        text,
                        reference=reference,
                        mention_author=False,
                        allowed_mentions=post_mentions(),
                        nonce=nonce_for(f"{kind}:{message_id}", 0),
                    ),
                    what=f"{kind} notice for {message_id}",
                )
            except discord.HTTPException as exc:
                log.warning("%s notice for message %d failed: %s", kind, message_id, exc)

        self.outbound.submit(channel_id, job)

    def on_prompt_progress(self, progress: PromptProgress) -> None:
        emoji = REACTION.get(progress.stage)
        if emoji:
            self.react(progress.channel_id, progress.message_id, emoji)
        if progress.stage == "accepted":
            self.typing.set(progress.channel_id, True)
        elif progress.stage == "done" and progress.detail:
            # One of Claude Code's own commands ran: what it printed (the worker read it).
            self.notice(progress.channel_id, progress.message_id, f"✅ {progress.detail}", "done")
        elif progress.stage == "failed" and progress.turn_failed:
            # Claude took it (✅), then an API error ended the turn: ❌ instead; the
            # turn's own post says why.
            self.typing.set(progress.channel_id, False)
            self.unreact(progress.channel_id, progress.message_id, REACTION["accepted"])
        elif progress.stage == "failed":
            self.typing.set(progress.channel_id, False)
            self.notice(
                progress.channel_id,
                progress.message_id,
                f"❌ Not delivered to Claude: {progress.detail or 'unknown error'}",
                "failed",
            )
