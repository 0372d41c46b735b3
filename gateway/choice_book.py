"""The pure part of Claude's choices in a channel: what each one shows and what a click means.

A single choice shows one button per option; a multi-select one shows a menu allowing
several (its picks are remembered per user until that user presses Submit). Either may
offer "Other…", which opens a form for free text. Every component's custom id names the
request by a token (`vai:c:<token>:<what>`) and the form's is `vai:m:<token>`, so clicks
are understood without discord.py views and keep working after a gateway restart.
`ChoiceBook` keeps the open requests, decides what a click or a typed answer means, and
says what the message shows before and after (the gateway's I/O is gateway/choices.py).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from vai.protocol.messages import ChoiceRequest

PREFIX = "vai:c:"
MODAL_PREFIX = "vai:m:"
TEXT_INPUT_ID = "vai:text"
MAX_BUTTONS = 25
MAX_MENU_OPTIONS = 25
MAX_LABEL = 80
MAX_TYPED = 1000
TEXT_BUDGET = 1700
PICK, SEND, OTHER = "pick", "send", "other"
Style = Literal["success", "danger", "primary", "secondary"]
ClickKind = Literal[
    "answered", "picked", "nothing_picked", "other", "not_allowed", "closed", "unknown"
]
_CUSTOM_ID = re.compile(r"^vai:c:([0-9a-f]{16}):(\d{1,2}|pick|send|other)$")
_MODAL_ID = re.compile(r"^vai:m:([0-9a-f]{16})$")
_YES = re.compile(r"^\s*(allow|yes|approve|accept|ok|continue|proceed)\b", re.IGNORECASE)
_NO = re.compile(r"^\s*(deny|no|reject|decline|cancel|stop|abort)\b", re.IGNORECASE)


def token_for(request_id: str) -> str:
    return hashlib.sha256(request_id.encode()).hexdigest()[:16]


def parse_action(custom_id: str) -> tuple[str, str] | None:
    """(token, what) of one of our components: an option's index, pick, send or other."""
    match = _CUSTOM_ID.match(custom_id)
    return (match.group(1), match.group(2)) if match else None


def parse_custom_id(custom_id: str) -> tuple[str, int] | None:
    """(token, option index) of an option's button."""
    parsed = parse_action(custom_id)
    return (parsed[0], int(parsed[1])) if parsed and parsed[1].isdigit() else None


def parse_modal_id(custom_id: str) -> str | None:
    match = _MODAL_ID.match(custom_id)
    return match.group(1) if match else None


@dataclass(frozen=True)
class ButtonSpec:
    label: str
    custom_id: str
    style: Style
    disabled: bool = False


@dataclass(frozen=True)
class MenuSpec:
    """A select menu: option labels (their values are their indices)."""

    custom_id: str
    labels: tuple[str, ...]
    max_values: int
    disabled: bool = False
    placeholder: str = "Pick one or more…"


@dataclass
class OpenChoice:
    request: ChoiceRequest
    token: str
    expires_at: float  # on the book's clock
    expires_wall: float  # for Discord's <t:..:R> countdown
    message_ids: list[int] = field(default_factory=list)
    outcome: str = ""  # "" while open; then the closing line
    chosen: int | None = None
    picks: dict[int, list[str]] = field(default_factory=dict)  # user id -> picked (multi)
    mention: int = 0  # the user it waits for, pinged (gateway/choices.py decides)

    @property
    def closed(self) -> bool:
        return bool(self.outcome)

    @property
    def multi(self) -> bool:
        return self.request.multi_select

    @property
    def options(self) -> list[str]:
        if self.multi:
            return self.request.options[:MAX_MENU_OPTIONS]
        room = MAX_BUTTONS - (1 if self.request.other else 0)
        return self.request.options[:room]


@dataclass(frozen=True)
class Click:
    kind: ClickKind
    choice: OpenChoice | None = None
    option: str = ""
    options: tuple[str, ...] = ()
    text: str = ""


def _style(kind: str, label: str) -> Style:
    if _YES.match(label):
        return "success"
    if _NO.match(label):
        return "danger"
    return "primary" if kind == "question" else "secondary"


def _label(option: str, limit: int = MAX_LABEL) -> str:
    flat = " ".join(option.split()) or "(empty)"
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _clean_name(name: str) -> str:
    return re.sub(r"[*_`~|>\\]", "", name)[:64] or "someone"


def _quoted(text: str) -> str:
    """Typed text shown in the closing line: one line, no code spans, clipped."""
    return _label(text, 300).replace("`", "'")


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

    def find(self, custom_id: str) -> OpenChoice | None:
        """The choice a component or form of ours belongs to (None if unknown)."""
        parsed = parse_action(custom_id)
        token = parsed[0] if parsed else parse_modal_id(custom_id)
        return self.choices.get(token) if token else None

    def click(
        self,
        custom_id: str,
        *,
        allowed: bool,
        user_name: str,
        user_id: int = 0,
        values: list[str] | None = None,
    ) -> Click:
        """A button pressed or a menu changed: what it means."""
        parsed = parse_action(custom_id)
        choice = self.find(custom_id)
        if parsed is None or choice is None:
            return Click("unknown")
        what = parsed[1]
        if what.isdigit() and (choice.multi or int(what) >= len(choice.options)):
            return Click("unknown")
        misplaced = what in (PICK, SEND) and not choice.multi
        if misplaced or (what == OTHER and not choice.request.other):
            return Click("unknown")
        refused = self._refusal(choice, allowed)
        if refused is not None:
            return refused
        if what == PICK:
            choice.picks[user_id] = self._picked(choice, values or [])
            return Click("picked", choice)
        if what == OTHER:
            return Click("other", choice)
        if what == SEND:
            picked = choice.picks.get(user_id, [])
            if not picked:
                return Click("nothing_picked", choice)
            names = ", ".join(f"**{_label(option)}**" for option in picked)
            choice.outcome = f"✅ **{_clean_name(user_name)}** chose {names}"
            return Click("answered", choice, picked[0], tuple(picked))
        index = int(what)
        option = choice.options[index]
        choice.chosen = index
        choice.outcome = f"✅ **{_clean_name(user_name)}** chose **{_label(option)}**"
        return Click("answered", choice, option)

    def typed(
        self, custom_id: str, text: str, *, allowed: bool, user_name: str, user_id: int = 0
    ) -> Click:
        """The "Other…" form was sent: the typed text answers (with any picks of a menu)."""
        choice = self.find(custom_id) if parse_modal_id(custom_id) else None
        if choice is None or not choice.request.other:
            return Click("unknown")
        refused = self._refusal(choice, allowed)
        if refused is not None:
            return refused
        text = text.strip()[:MAX_TYPED]
        if not text:
            return Click("nothing_picked", choice)
        picked = choice.picks.get(user_id, []) if choice.multi else []
        names = "".join(f"**{_label(option)}**, " for option in picked)
        name = _clean_name(user_name)
        choice.outcome = f"✅ **{name}** answered {names}“{_quoted(text)}”"
        return Click("answered", choice, picked[0] if picked else "", tuple(picked), text)

    def _refusal(self, choice: OpenChoice, allowed: bool) -> Click | None:
        if not allowed:
            return Click("not_allowed", choice)
        if choice.closed:
            return Click("closed", choice)
        if self.clock() >= choice.expires_at:
            self.expire(choice)
            return Click("closed", choice)
        return None

    @staticmethod
    def _picked(choice: OpenChoice, values: list[str]) -> list[str]:
        """The options a menu's values name, in the options' order (strangers ignored)."""
        indices = {int(v) for v in values if v.isdigit() and int(v) < len(choice.options)}
        return [choice.options[i] for i in sorted(indices)]

    def expire(self, choice: OpenChoice) -> None:
        minutes = max(1, round(choice.request.timeout_s / 60))
        choice.outcome = f"⌛ No answer within {minutes} min; Claude was told."

    @staticmethod
    def withdraw(choice: OpenChoice, reason: str) -> None:
        """Claude no longer asks (its turn ended, say): closed without an answer."""
        why = _label(reason, 120).replace("`", "'") if reason.strip() else "no longer asked"
        choice.outcome = f"↩️ Claude no longer asks ({why})."

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
        if choice.mention:
            head = f"<@{choice.mention}> {head}"
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
    def reminder(choice: OpenChoice) -> str:
        """The one reminder, a reply to the choice's message."""
        what = "permission" if choice.request.kind == "permission" else "an answer"
        return (
            f"<@{choice.mention}> ⏳ Claude is still waiting for {what} (session"
            f" {choice.request.session}); it expires <t:{int(choice.expires_wall)}:R>."
        )

    @staticmethod
    def buttons(choice: OpenChoice) -> list[ButtonSpec]:
        """One button per option (a multi-select choice has Submit instead), then Other…."""
        specs = []
        base = f"{PREFIX}{choice.token}:"
        closed = choice.closed
        if choice.multi:
            specs.append(ButtonSpec("Submit", base + SEND, "success", closed or not choice.options))
        else:
            for index, option in enumerate(choice.options):
                style = _style(choice.request.kind, option)
                if closed and index != choice.chosen:
                    style = "secondary"
                specs.append(ButtonSpec(_label(option), f"{base}{index}", style, closed))
        if choice.request.other:
            specs.append(ButtonSpec("Other…", base + OTHER, "secondary", closed))
        return specs

    @staticmethod
    def menu(choice: OpenChoice) -> MenuSpec | None:
        """The select menu of a multi-select choice (None for a single one)."""
        if not choice.multi or not choice.options:
            return None
        labels = tuple(_label(option, 100) for option in choice.options)
        return MenuSpec(f"{PREFIX}{choice.token}:{PICK}", labels, len(labels), choice.closed)
