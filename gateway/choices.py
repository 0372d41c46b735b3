"""Permission prompts and Claude's questions as buttons that only allowed users can use.

`ChoiceBook` is the pure part: open requests, their custom ids, what a click means,
what the message says before and after, and when each expires. `ChoiceButtons` posts
the message (with a nonce per request, so a re-offer after a gateway restart does not
post twice), answers clicks through the interaction itself, and expires requests on a
timer. On an answer or on expiry the buttons are disabled and the message says who
chose what; the answer (or an empty option for expiry) goes back as a ChoiceAnswer.

Clicks are handled in `on_interaction` by custom id (`vai:c:<token>:<index>`) rather
than with discord.py views, so they work the same after a restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import discord

from vai.gateway.mentions import post_mentions
from vai.gateway.outbound import Outbound
from vai.gateway.replies import nonce_for
from vai.protocol.messages import ChoiceAnswer, ChoiceRequest

log = logging.getLogger("gateway.choices")

PREFIX = "vai:c:"
MAX_BUTTONS = 25
MAX_LABEL = 80
TEXT_BUDGET = 1700
Style = Literal["success", "danger", "primary", "secondary"]
_CUSTOM_ID = re.compile(r"^vai:c:([0-9a-f]{16}):(\d{1,2})$")
_YES = re.compile(r"^\s*(allow|yes|approve|accept|ok|continue|proceed)\b", re.IGNORECASE)
_NO = re.compile(r"^\s*(deny|no|reject|decline|cancel|stop|abort)\b", re.IGNORECASE)


def token_for(request_id: str) -> str:
    return hashlib.sha256(request_id.encode()).hexdigest()[:16]


def parse_custom_id(custom_id: str) -> tuple[str, int] | None:
    match = _CUSTOM_ID.match(custom_id)
    return (match.group(1), int(match.group(2))) if match else None


@dataclass(frozen=True)
class ButtonSpec:
    label: str
    custom_id: str
    style: Style
    disabled: bool = False


@dataclass
class OpenChoice:
    request: ChoiceRequest
    token: str
    expires_at: float  # on the book's clock
    expires_wall: float  # for Discord's <t:..:R> countdown
    message_ids: list[int] = field(default_factory=list)
    outcome: str = ""  # "" while open; then the closing line
    chosen: int | None = None

    @property
    def closed(self) -> bool:
        return bool(self.outcome)

    @property
    def options(self) -> list[str]:
        return self.request.options[:MAX_BUTTONS]


@dataclass(frozen=True)
class Click:
    kind: Literal["answered", "not_allowed", "closed", "unknown"]
    choice: OpenChoice | None = None
    option: str = ""


def _style(kind: str, label: str) -> Style:
    if _YES.match(label):
        return "success"
    if _NO.match(label):
        return "danger"
    return "primary" if kind == "question" else "secondary"


def _label(option: str) -> str:
    flat = " ".join(option.split()) or "(empty)"
    return flat if len(flat) <= MAX_LABEL else flat[: MAX_LABEL - 1] + "…"


class ChoiceBook:
    def __init__(
        self, clock: Callable[[], float] = time.monotonic, wall: Callable[[], float] = time.time
    ) -> None:
        self.clock, self.wall = clock, wall
        self.choices: dict[str, OpenChoice] = {}  # by token

    def offer(self, request: ChoiceRequest) -> tuple[OpenChoice, bool]:
        """The choice for a request, and whether it is new (a re-offer finds the old one)."""
        token = token_for(request.request_id)
        known = self.choices.get(token)
        if known is not None:
            return known, False
        timeout = max(1.0, request.timeout_s)
        choice = OpenChoice(request, token, self.clock() + timeout, self.wall() + timeout)
        self.choices[token] = choice
        return choice, True

    def click(self, custom_id: str, *, allowed: bool, user_name: str) -> Click:
        parsed = parse_custom_id(custom_id)
        if parsed is None:
            return Click("unknown")
        token, index = parsed
        choice = self.choices.get(token)
        if choice is None or index >= len(choice.options):
            return Click("unknown")
        if not allowed:
            return Click("not_allowed", choice)
        if choice.closed:
            return Click("closed", choice)
        if self.clock() >= choice.expires_at:
            self.expire(choice)
            return Click("closed", choice)
        option = choice.options[index]
        choice.chosen = index
        choice.outcome = f"✅ **{_clean_name(user_name)}** chose **{_label(option)}**"
        return Click("answered", choice, option)

    def expire(self, choice: OpenChoice) -> None:
        minutes = max(1, round(choice.request.timeout_s / 60))
        choice.outcome = f"⌛ No answer within {minutes} min; Claude was told."

    def due(self) -> list[OpenChoice]:
        """Open choices whose time is up (they are marked expired)."""
        now = self.clock()
        expired = [c for c in self.choices.values() if not c.closed and now >= c.expires_at]
        for choice in expired:
            self.expire(choice)
        return expired

    def next_expiry(self) -> float | None:
        times = [c.expires_at for c in self.choices.values() if not c.closed and c.options]
        return min(times) if times else None

    def forget_closed(self, keep: int = 256) -> None:
        closed = [t for t, c in self.choices.items() if c.closed]
        for token in closed[: max(0, len(closed) - keep)]:
            del self.choices[token]

    # -- what the message shows ---------------------------------------------------------------

    @staticmethod
    def content(choice: OpenChoice) -> str:
        req = choice.request
        head = (
            f"🔐 **Claude asks for permission** (session {req.session})"
            if req.kind == "permission"
            else f"❓ **Claude asks** (session {req.session})"
        )
        text = req.text.strip()
        if len(text) > TEXT_BUDGET:
            text = text[: TEXT_BUDGET - 1] + "…"
        lines = [head, text] if text else [head]
        hidden = len(req.options) - len(choice.options)
        if hidden > 0:
            lines.append(f"({hidden} more options are not shown; answer in the terminal.)")
        if choice.closed:
            lines.append(choice.outcome)
        elif choice.options:
            lines.append(
                f"-# Only allowed users can answer. Expires <t:{int(choice.expires_wall)}:R>."
            )
        return "\n".join(lines)

    @staticmethod
    def buttons(choice: OpenChoice) -> list[ButtonSpec]:
        specs = []
        for index, option in enumerate(choice.options):
            style = _style(choice.request.kind, option)
            if choice.closed and index != choice.chosen:
                style = "secondary"
            specs.append(
                ButtonSpec(_label(option), f"{PREFIX}{choice.token}:{index}", style, choice.closed)
            )
        return specs


def _clean_name(name: str) -> str:
    return re.sub(r"[*_`~|>\\]", "", name)[:64] or "someone"


def build_view(specs: list[ButtonSpec]) -> discord.ui.View | None:
    """Buttons as a view that discord.py will not store (clicks come to on_interaction)."""
    if not specs:
        return None
    view = discord.ui.View(timeout=None)
    for index, spec in enumerate(specs):
        view.add_item(
            discord.ui.Button(
                label=spec.label,
                custom_id=spec.custom_id,
                style=getattr(discord.ButtonStyle, spec.style),
                disabled=spec.disabled,
                row=index // 5,
            )
        )
    view.stop()
    return view


AllowCheck = Callable[[discord.abc.User, int], Awaitable[bool]]
Send = Callable[[ChoiceAnswer], Awaitable[None]]


class ChoiceButtons:
    def __init__(
        self,
        client: discord.Client,
        outbound: Outbound,
        allowed: AllowCheck,
        send_answer: Send,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_posted: Callable[[int], None] | None = None,
    ) -> None:
        self.client = client
        self.outbound = outbound
        self.allowed = allowed
        self.send_answer = send_answer
        self.on_posted = on_posted
        self.book = ChoiceBook(clock)
        self._wake = asyncio.Event()
        self._timer: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._timer = asyncio.create_task(self._expiry_loop())

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    # -- requests from Claude ------------------------------------------------------------------

    def offer(self, request: ChoiceRequest) -> None:
        if not request.channel_id:
            log.warning("choice %s has no channel; dropped", request.request_id)
            return
        choice, new = self.book.offer(request)
        if not new and choice.message_ids:
            return  # already on screen
        if self.on_posted is not None:
            self.on_posted(request.channel_id)
        self.outbound.submit(
            request.channel_id, lambda: self._post(choice), key=f"choice:{choice.token}"
        )
        self._wake.set()

    async def _post(self, choice: OpenChoice) -> None:
        channel = self.client.get_partial_messageable(choice.request.channel_id)
        specs = ChoiceBook.buttons(choice)
        try:
            message = await self.outbound.call(
                lambda: channel.send(
                    ChoiceBook.content(choice),
                    view=build_view(specs),  # type: ignore[arg-type]
                    nonce=nonce_for(f"choice:{choice.request.request_id}", 0),
                    allowed_mentions=post_mentions(),
                ),
                what=f"choice {choice.request.request_id}",
            )
        except discord.HTTPException as exc:
            log.warning("choice %s could not be posted: %s", choice.request.request_id, exc)
            return
        if message.id not in choice.message_ids:
            choice.message_ids.append(message.id)
        if choice.closed:  # answered or expired while it was being posted
            self._show_outcome(choice)

    # -- clicks --------------------------------------------------------------------------------

    async def on_interaction(self, interaction: discord.Interaction) -> bool:
        """Handles a click on one of our buttons; False if it is not ours."""
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        if interaction.type is not discord.InteractionType.component or not custom_id.startswith(
            PREFIX
        ):
            return False
        parsed = parse_custom_id(custom_id)
        known = parsed is not None and parsed[0] in self.book.choices
        session = self.book.choices[parsed[0]].request.session if parsed and known else None
        allowed = session is not None and await self.allowed(interaction.user, session)
        click = self.book.click(custom_id, allowed=allowed, user_name=interaction.user.display_name)
        response = interaction.response
        if click.kind == "unknown":
            await response.send_message(
                "This question is no longer open (it may have been answered in the terminal).",
                ephemeral=True,
                allowed_mentions=post_mentions(),
            )
            return True
        choice = click.choice
        assert choice is not None
        if click.kind == "not_allowed":
            await response.send_message(
                "🚫 You are not allowed to answer Claude in this session.",
                ephemeral=True,
                allowed_mentions=post_mentions(),
            )
            return True
        if interaction.message is not None and interaction.message.id not in choice.message_ids:
            choice.message_ids.append(interaction.message.id)
        await response.edit_message(
            content=ChoiceBook.content(choice),
            view=build_view(ChoiceBook.buttons(choice)),
            allowed_mentions=post_mentions(),
        )
        if click.kind == "answered":
            log.info(
                "choice %s answered %r by %s",
                choice.request.request_id,
                click.option,
                interaction.user.id,
            )
            await self.send_answer(
                ChoiceAnswer(
                    request_id=choice.request.request_id,
                    session=choice.request.session,
                    option=click.option,
                    user_id=interaction.user.id,
                    user_name=str(interaction.user),
                )
            )
        self._show_outcome(choice, skip=interaction.message.id if interaction.message else 0)
        return True

    # -- expiry --------------------------------------------------------------------------------

    async def _expiry_loop(self) -> None:
        while True:
            self._wake.clear()
            deadline = self.book.next_expiry()
            timeout = None if deadline is None else max(0.0, deadline - self.book.clock())
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
                continue
            except TimeoutError:
                pass
            for choice in self.book.due():
                log.info("choice %s expired", choice.request.request_id)
                await self.send_answer(
                    ChoiceAnswer(
                        request_id=choice.request.request_id,
                        session=choice.request.session,
                        option="",
                    )
                )
                self._show_outcome(choice)
            self.book.forget_closed()

    def _show_outcome(self, choice: OpenChoice, skip: int = 0) -> None:
        """Every message of a closed choice shows its outcome with the buttons disabled."""
        channel_id = choice.request.channel_id
        for message_id in [m for m in choice.message_ids if m != skip]:

            async def edit(message_id: int = message_id) -> None:
                channel = self.client.get_partial_messageable(channel_id)
                partial = channel.get_partial_message(message_id)
                try:
                    await self.outbound.call(
                        lambda: partial.edit(
                            content=ChoiceBook.content(choice),
                            view=build_view(ChoiceBook.buttons(choice)),
                            allowed_mentions=post_mentions(),
                        ),
                        what=f"closing choice {choice.request.request_id}",
                    )
                except discord.HTTPException as exc:
                    log.warning("choice message %d not updated: %s", message_id, exc)

            self.outbound.submit(channel_id, edit)
