"""How a PostReply becomes Discord messages: split, attached, or refused with a clear note.

`plan_reply` is pure (it only stats the file it is given): text is cut under 2000
characters without breaking code fences; an answer that would need more than a few
messages goes as one file; a file from `dp --file` is attached when Discord will take
it, and replaced by a one-line explanation when it will not. Every part carries a
stable nonce, so posting the same reply again (after a retry or a restart) is a no-op.
"""

from __future__ import annotations

import collections
import hashlib
import io
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import discord

from vai.common.uploads import MIB, human_size, safe_filename, upload_problem
from vai.common.usage_view import with_footer
from vai.gateway.mentions import post_mentions
from vai.gateway.outbound import Outbound
from vai.protocol.messages import PostReply, ReplyPosted
from vai.protocol.text import split_for_discord

log = logging.getLogger("gateway.replies")

# Discord's message nonce is at most 25 characters.
NONCE_LENGTH = 25
SEEN_REPLIES = 4096


def nonce_for(reply_id: str, part: int) -> str:
    """A stable nonce per reply part, so a repost after a restart is deduplicated by Discord."""
    return hashlib.sha256(f"{reply_id}:{part}".encode()).hexdigest()[:NONCE_LENGTH]


@dataclass(frozen=True)
class Attachment:
    filename: str
    path: Path | None = None  # a file on disk (dp --file)
    data: bytes | None = None  # or bytes (a long answer)


@dataclass(frozen=True)
class Part:
    text: str | None
    nonce: str
    attachment: Attachment | None = None
    reference: int | None = None


def plan_reply(
    reply: PostReply,
    *,
    max_messages: int = 4,
    upload_limit: int = 10 * MIB,
    stat: Callable[[str], os.stat_result] = os.stat,
    footer: bool = False,
) -> list[Part]:
    """`footer`: end the answer with its token use (`[discord] usage_footer`), in the
    last message when it fits there (never a message of its own)."""
    texts: list[str] = []
    attachment: Attachment | None = None
    if reply.file_path:
        problem = upload_problem(reply.file_path, upload_limit, stat)
        if problem:
            texts.append(f"⚠️ Not sent: {problem}.")
        else:
            path = Path(reply.file_path)
            attachment = Attachment(filename=safe_filename(path.name), path=path)
    chunks = split_for_discord(reply.text)
    if len(chunks) > max(1, max_messages) and attachment is None:
        data = reply.text.encode()
        note = (
            f"📄 The answer is long ({len(reply.text):,} characters), so it is attached as a file."
        )
        if len(data) > upload_limit:
            data = data[:upload_limit]
            note += f" It was cut at Discord's {human_size(upload_limit)} limit."
        attachment = Attachment(filename="answer.md", data=data)
        chunks = [note]
    if footer and chunks and reply.usage is not None:
        chunks[-1] = with_footer(chunks[-1], reply.usage)
    texts.extend(chunks)
    if not texts and attachment is None:
        return []
    parts: list[Part] = []
    if attachment is not None:
        parts.append(
            Part(texts.pop(0) if texts else None, nonce_for(reply.reply_id, 0), attachment)
        )
    parts.extend(
        Part(text, nonce_for(reply.reply_id, index)) for index, text in enumerate(texts, start=1)
    )
    first = parts[0]
    parts[0] = Part(first.text, first.nonce, first.attachment, reply.reference_message_id)
    return parts


class ReplyPoster:
    """Posts PostReply messages through the outbound queue, each channel in order.

    A reply id seen recently is not queued again (the supervisor re-sends unposted replies
    when the gateway says hello), and every part has a nonce Discord enforces, so even a
    post whose response was lost is not duplicated by its retry.
    """

    def __init__(
        self,
        client: discord.Client,
        outbound: Outbound,
        report: Callable[[ReplyPosted], Awaitable[None]],
        *,
        max_messages: int = 4,
        upload_limit: int = 10 * MIB,
        before_post: Callable[[int], None] | None = None,
        blocked: Callable[[int], str] = lambda channel_id: "",
        on_unusable: Callable[[int, discord.HTTPException], Awaitable[None]] | None = None,
        usage_footer: bool = False,
    ) -> None:
        self.client = client
        self.outbound = outbound
        self.report = report
        self.max_messages = max_messages
        self.upload_limit = upload_limit
        self.before_post = before_post
        self.blocked = blocked
        self.on_unusable = on_unusable
        self.usage_footer = usage_footer
        self._seen: collections.OrderedDict[str, None] = collections.OrderedDict()

    def submit(self, reply: PostReply) -> bool:
        if reply.reply_id in self._seen:
            return False
        self._seen[reply.reply_id] = None
        while len(self._seen) > SEEN_REPLIES:
            self._seen.popitem(last=False)
        self.outbound.submit(reply.channel_id, lambda: self.post(reply))
        return True

    def limit_for(self, channel_id: int) -> int:
        channel = self.client.get_channel(channel_id)
        guild = getattr(channel, "guild", None)
        if guild is not None:
            return min(self.upload_limit, int(guild.filesize_limit))
        return self.upload_limit

    async def post(self, reply: PostReply) -> None:
        if self.before_post is not None:
            self.before_post(reply.channel_id)
        reason = self.blocked(reply.channel_id)
        if reason:
            log.warning("reply %s not sent: %s", reply.reply_id, reason)
            await self.report(ReplyPosted(reply_id=reply.reply_id, ok=False, error=reason))
            return
        parts = plan_reply(
            reply,
            max_messages=self.max_messages,
            upload_limit=self.limit_for(reply.channel_id),
            footer=self.usage_footer,
        )
        channel = self.client.get_partial_messageable(reply.channel_id)
        try:
            for part in parts:
                await self._send(channel, reply, part)
        except discord.HTTPException as exc:
            log.warning("reply %s failed: %s", reply.reply_id, exc)
            if self.on_unusable is not None:
                await self.on_unusable(reply.channel_id, exc)
            await self.report(ReplyPosted(reply_id=reply.reply_id, ok=False, error=str(exc)))
            return
        await self.report(ReplyPosted(reply_id=reply.reply_id))

    async def _send(
        self, channel: discord.PartialMessageable, reply: PostReply, part: Part
    ) -> None:
        reference = None
        if part.reference is not None:
            reference = discord.MessageReference(
                message_id=part.reference, channel_id=reply.channel_id, fail_if_not_exists=False
            )
        attachment = part.attachment

        async def send() -> discord.Message:
            file = _open(attachment) if attachment is not None else None
            kwargs: dict[str, Any] = {
                "nonce": part.nonce,
                "allowed_mentions": post_mentions(),
                "mention_author": False,
            }
            if reference is not None:
                kwargs["reference"] = reference
            if file is not None:
                kwargs["file"] = file
            try:
                return await channel.send(part.text, **kwargs)
            finally:
                if file is not None:
                    file.close()

        what = f"reply {reply.reply_id} ({part.nonce})"
        try:
            await self.outbound.call(send, what=what)
        except OSError as exc:  # the file went away or became unreadable since the plan
            assert attachment is not None
            note = f"⚠️ File `{attachment.filename}` was not sent: {exc.strerror or exc}."
            text = f"{part.text}\n{note}" if part.text else note
            await self.outbound.call(lambda: self._send_note(channel, text, part), what=what)
        except discord.HTTPException as exc:
            if attachment is None or exc.status != 413:
                raise
            note = f"⚠️ File `{attachment.filename}` was not sent: Discord says it is too large."
            text = f"{part.text}\n{note}" if part.text else note
            await self.outbound.call(lambda: self._send_note(channel, text, part), what=what)

    @staticmethod
    async def _send_note(
        channel: discord.PartialMessageable, text: str, part: Part
    ) -> discord.Message:
        """The part's text with a note instead of its file."""
        return await channel.send(text[:2000], nonce=part.nonce, allowed_mentions=post_mentions())


def _open(attachment: Attachment) -> discord.File:
    if attachment.path is not None:
        return discord.File(attachment.path, filename=attachment.filename)
    return discord.File(io.BytesIO(attachment.data or b""), filename=attachment.filename)
