"""Permission prompts and Claude's questions as components that only allowed users can use.

`ChoiceBook` (gateway/choice_book.py) is the pure part. `ChoiceButtons` posts the message
(with a nonce per request, so a re-offer after a gateway restart does not post twice),
answers clicks, menu changes and the "Other…" form through the interaction itself, and
expires requests on a timer. On an answer or on expiry the components are disabled and
the message says who chose what; the answer (or an empty one for expiry) goes back as a
ChoiceAnswer (`options` for a multi-select answer, `text` for typed text).

Interactions are handled in `on_interaction` by custom id rather than with discord.py
views, so they work the same after a restart.

A choice pings the person it waits for (the request's `mention_user_id`, which the
supervisor checked) when `[discord] mention_on_wait` is on, and replies to itself once to
remind them when nobody answered in time (gateway/wait_reminders.py); no one else is ever
pinged (gateway/mentions.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import discord

from vai.gateway.choice_book import (
    MODAL_PREFIX,
    PREFIX,
    TEXT_INPUT_ID,
    ButtonSpec,
    ChoiceBook,
    Click,
    MenuSpec,
    OpenChoice,
    token_for,
)
from vai.gateway.mentions import post_mentions
from vai.gateway.outbound import Outbound
from vai.gateway.replies import nonce_for
from vai.gateway.wait_reminders import WaitReminders, reminder_delay
from vai.protocol.messages import ChoiceAnswer, ChoiceRequest, ChoiceWithdrawn
from vai.protocol.specs import GatewaySettings

log = logging.getLogger("gateway.choices")
NOT_OPEN = "This question is no longer open (it may have been answered in the terminal)."
NOT_ALLOWED = "🚫 You are not allowed to answer Claude in this session."
NOTHING_PICKED = "Pick at least one option in the menu first (or use Other…)."


def build_view(specs: list[ButtonSpec], menu: MenuSpec | None = None) -> discord.ui.View | None:
    """Components as a view that discord.py will not store (they come to on_interaction):
    the menu on the first row, the buttons below it, five to a row."""
    if not specs and menu is None:
        return None
    view = discord.ui.View(timeout=None)
    first = 0
    if menu is not None:
        options = [
            discord.SelectOption(label=label, value=str(index))
            for index, label in enumerate(menu.labels)
        ]
        view.add_item(
            discord.ui.Select(
                custom_id=menu.custom_id,
                placeholder=menu.placeholder,
                min_values=1,
                max_values=menu.max_values,
                options=options,
                disabled=menu.disabled,
                row=0,
            )
        )
        first = 1
    for index, spec in enumerate(specs):
        view.add_item(
            discord.ui.Button(
                label=spec.label,
                custom_id=spec.custom_id,
                style=getattr(discord.ButtonStyle, spec.style),
                disabled=spec.disabled,
                row=first + index // 5,
            )
        )
    view.stop()
    return view


def choice_view(choice: OpenChoice) -> discord.ui.View | None:
    return build_view(ChoiceBook.buttons(choice), ChoiceBook.menu(choice))


def other_form(choice: OpenChoice, remaining: float) -> discord.ui.Modal:
    """The "Other…" form: one text field; its submission comes to on_interaction."""
    title = "Answer Claude" if choice.request.kind == "question" else "Answer"
    form = discord.ui.Modal(
        title=title, custom_id=f"{MODAL_PREFIX}{choice.token}", timeout=max(1.0, remaining)
    )
    form.add_item(
        discord.ui.TextInput(
            label="Your answer",
            custom_id=TEXT_INPUT_ID,
            style=discord.TextStyle.paragraph,
            max_length=1000,
            required=True,
        )
    )
    return form


def typed_text(data: dict[str, Any]) -> str:
    """The text field's value in a modal submission's data."""
    for row in data.get("components") or []:
        for item in row.get("components") or [row]:
            if isinstance(item, dict) and item.get("custom_id") == TEXT_INPUT_ID:
                return str(item.get("value") or "")
    return ""


def pinged(choice: OpenChoice) -> list[int]:
    """Who a post about this choice may ping: its person, only while it is open."""
    return [choice.mention] if choice.mention and not choice.closed else []


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
        settings: GatewaySettings | None = None,
    ) -> None:
        self.client = client
        self.outbound = outbound
        self.allowed = allowed
        self.send_answer = send_answer
        self.on_posted = on_posted
        self.book = ChoiceBook(clock)
        self.settings = settings or GatewaySettings()  # replaced as `vai reload` says
        self.reminders = WaitReminders(clock)
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
        if new and self.settings.mention_on_wait and request.mention_user_id:
            choice.mention = request.mention_user_id
            delay = reminder_delay(self.settings.wait_reminder_s, request.timeout_s)
            self.reminders.plan(request.request_id, delay)
        if not new and choice.message_ids:
            return  # already on screen
        if self.on_posted is not None:
            self.on_posted(request.channel_id)
        self.outbound.submit(
            request.channel_id, lambda: self._post(choice), key=f"choice:{choice.token}"
        )
        self._wake.set()

    def withdraw(self, withdrawn: ChoiceWithdrawn) -> None:
        """Claude no longer asks: the buttons close, the reason shows, no reminder comes."""
        self.reminders.close(withdrawn.request_id)
        choice = self.book.choices.get(token_for(withdrawn.request_id))
        if choice is None or choice.closed or choice.request.session != withdrawn.session:
            return
        log.info("choice %s withdrawn: %s", withdrawn.request_id, withdrawn.reason)
        ChoiceBook.withdraw(choice, withdrawn.reason)
        self._show_outcome(choice)
        self._wake.set()

    async def _post(self, choice: OpenChoice) -> None:
        channel = self.client.get_partial_messageable(choice.request.channel_id)
        try:
            message = await self.outbound.call(
                lambda: channel.send(
                    ChoiceBook.content(choice),
                    view=choice_view(choice),  # type: ignore[arg-type]
                    nonce=nonce_for(f"choice:{choice.request.request_id}", 0),
                    allowed_mentions=post_mentions(users=pinged(choice)),
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
        """Handles our buttons, menus and "Other…" forms; False if it is not ours."""
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        kind = interaction.type
        form = kind is discord.InteractionType.modal_submit and custom_id.startswith(MODAL_PREFIX)
        if not form and not (
            kind is discord.InteractionType.component and custom_id.startswith(PREFIX)
        ):
            return False
        known = self.book.find(custom_id)
        allowed = known is not None and await self.allowed(interaction.user, known.request.session)
        user = interaction.user
        if form:
            click = self.book.typed(
                custom_id,
                typed_text(data),
                allowed=allowed,
                user_name=user.display_name,
                user_id=user.id,
            )
        else:
            values = [str(v) for v in data.get("values") or []]
            click = self.book.click(
                custom_id,
                allowed=allowed,
                user_name=user.display_name,
                user_id=user.id,
                values=values,
            )
        await self._respond(interaction, click)
        return True

    async def _respond(self, interaction: discord.Interaction, click: Click) -> None:
        response = interaction.response
        choice = click.choice
        if click.kind == "unknown" or choice is None:
            await self._privately(interaction, NOT_OPEN)
            return
        if click.kind == "not_allowed":
            await self._privately(interaction, NOT_ALLOWED)
            return
        if click.kind == "picked":
            await response.defer()  # the menu keeps showing the picks; Submit sends them
            return
        if click.kind == "nothing_picked":
            await self._privately(interaction, NOTHING_PICKED)
            return
        if click.kind == "other":
            remaining = choice.expires_at - self.book.clock()
            await response.send_modal(other_form(choice, remaining))
            return
        message = interaction.message
        if message is not None and message.id not in choice.message_ids:
            choice.message_ids.append(message.id)
        if message is not None:
            await response.edit_message(
                content=ChoiceBook.content(choice),
                view=choice_view(choice),
                allowed_mentions=post_mentions(),
            )
        else:
            await response.defer()
        if click.kind == "answered":
            self.reminders.close(choice.request.request_id)
            log.info(
                "choice %s answered %r by %s",
                choice.request.request_id,
                click.text or click.options or click.option,
                interaction.user.id,
            )
            await self.send_answer(
                ChoiceAnswer(
                    request_id=choice.request.request_id,
                    session=choice.request.session,
                    option=click.option,
                    user_id=interaction.user.id,
                    user_name=str(interaction.user),
                    options=list(click.options),
                    text=click.text,
                )
            )
        self._show_outcome(choice, skip=message.id if message else 0)

    @staticmethod
    async def _privately(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(
            text, ephemeral=True, allowed_mentions=post_mentions()
        )

    # -- expiry --------------------------------------------------------------------------------

    async def _expiry_loop(self) -> None:
        while True:
            self._wake.clear()
            times = [
                t for t in (self.book.next_expiry(), self.reminders.next_due()) if t is not None
            ]
            timeout = max(0.0, min(times) - self.book.clock()) if times else None
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
                continue
            except TimeoutError:
                pass
            for choice in self.book.due():
                log.info("choice %s expired", choice.request.request_id)
                self.reminders.close(choice.request.request_id)
                await self.send_answer(
                    ChoiceAnswer(
                        request_id=choice.request.request_id,
                        session=choice.request.session,
                        option="",
                    )
                )
                self._show_outcome(choice)
            for request_id in self.reminders.due():
                self._remind(request_id)
            self.book.forget_closed()

    def _remind(self, request_id: str) -> None:
        """The one reminder: a reply to the choice's message that pings its person again
        (nothing if it closed meanwhile, or `vai reload` turned pings or reminders off)."""
        choice = self.book.choices.get(token_for(request_id))
        settings = self.settings
        if choice is None or choice.closed or not choice.mention:
            return
        if not settings.mention_on_wait or settings.wait_reminder_s == 0:
            return
        channel_id = choice.request.channel_id
        log.info("choice %s: reminding user %d", request_id, choice.mention)

        async def post() -> None:
            if choice.closed:
                return  # answered while the reminder waited its turn in the channel's lane
            channel = self.client.get_partial_messageable(channel_id)
            reference = None
            if choice.message_ids:
                reference = discord.MessageReference(
                    message_id=choice.message_ids[0],
                    channel_id=channel_id,
                    fail_if_not_exists=False,
                )
            try:
                await self.outbound.call(
                    lambda: channel.send(
                        ChoiceBook.reminder(choice),
                        reference=reference,  # type: ignore[arg-type]
                        nonce=nonce_for(f"remind:{request_id}", 0),
                        allowed_mentions=post_mentions(users=pinged(choice)),
                    ),
                    what=f"reminder for choice {request_id}",
                )
            except discord.HTTPException as exc:
                log.warning("reminder for choice %s not posted: %s", request_id, exc)

        self.outbound.submit(channel_id, post, key=f"remind:{choice.token}")

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
                            view=choice_view(choice),
                            allowed_mentions=post_mentions(),
                        ),
                        what=f"closing choice {choice.request.request_id}",
                    )
                except discord.HTTPException as exc:
                    log.warning("choice message %d not updated: %s", message_id, exc)

            self.outbound.submit(channel_id, edit)
