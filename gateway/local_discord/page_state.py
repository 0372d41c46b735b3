"""What the chat page shows, built from the server's state: channels and threads, messages, the
bot's registered commands, who is typing, and the answers only the page's user may see.

Everything comes from the store and the interactions (nothing is hard-coded in the page), so
channels, threads and commands the bot creates appear by themselves. Ids are strings because
snowflakes do not fit in a JavaScript number. Pure: ``build`` takes the time and returns the
state plus when it would change by itself (a typing indicator running out, an interaction left
unanswered), so the long poll knows when to look again; ``fingerprint`` tells it cheaply
whether anything it shows may have changed.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from .interactions import Interaction, Interactions
from .store import FLAG_EPHEMERAL, FLAG_LOADING, JSON, Store

TYPING_SHOWN_S = 10.0
MESSAGES_SHOWN = 200
NOT_ANSWERED = "The application did not respond."
_CHANNEL_MENTION = re.compile(r"<#(\d+)>")


def _components(components: Iterable[JSON]) -> list[JSON]:
    """Buttons and links, flattened out of their action rows."""
    out: list[JSON] = []
    for comp in components:
        if comp.get("type") == 2:
            button = {k: comp.get(k) for k in ("custom_id", "label", "disabled", "style", "url")}
            emoji = comp.get("emoji") or {}
            button["emoji"] = emoji.get("name") if isinstance(emoji, dict) else None
            out.append(button)
        out += _components(comp.get("components") or [])
    return out


def _menus(components: Iterable[JSON]) -> list[JSON]:
    """Select menus (string selects), flattened out of their action rows."""
    out: list[JSON] = []
    for comp in components:
        if comp.get("type") == 3:
            menu = {k: comp.get(k) for k in ("custom_id", "placeholder", "disabled")}
            menu |= {
                "min_values": comp.get("min_values", 1),
                "max_values": comp.get("max_values", 1),
            }
            options = [{"label": o.get("label"), "value": o.get("value")} for o in comp["options"]]
            out.append(menu | {"options": options})
        out += _menus(comp.get("components") or [])
    return out


def _form(inter: Interaction, modal: JSON) -> JSON:
    """A form the bot opened for the page's user: its title and text inputs."""
    inputs = []
    for row in modal.get("components") or []:
        for item in row.get("components") or ([row["component"]] if row.get("component") else []):
            if isinstance(item, dict) and item.get("type") == 4:
                keys = ("custom_id", "label", "style", "required", "max_length", "placeholder")
                field_ = {k: item.get(k) for k in keys}
                field_["label"] = field_["label"] or row.get("label")
                inputs.append(field_)
    head = {"interaction_id": str(inter.id), "channel_id": str(inter.channel_id)}
    return head | {"title": modal.get("title"), "inputs": inputs}


def _embed(embed: JSON) -> JSON:
    fields = [{"name": f.get("name"), "value": f.get("value")} for f in embed.get("fields") or []]
    shown = {k: embed.get(k) for k in ("title", "description", "url")}
    return shown | {"fields": fields, "footer": (embed.get("footer") or {}).get("text")}


@dataclass
class PageView:
    """The page's state; remembers the interactions its user started (their private answers)."""

    store: Store
    interactions: Interactions
    mine: list[int] = field(default_factory=list)
    _cache: tuple[tuple[object, ...], JSON, float | None] | None = None

    def started(self, interaction_id: int) -> None:
        self.mine.append(interaction_id)
        self.mine = [i for i in self.mine if i in self.interactions.live]

    def _names(self, msg: JSON) -> JSON:
        """Names of what the message mentions (the page shows ``@name``, ``#channel``)."""
        users = {m["id"]: m.get("global_name") or m["username"] for m in msg.get("mentions", [])}
        channels = {
            cid: str(self.store.channels[int(cid)]["name"])
            for cid in _CHANNEL_MENTION.findall(str(msg.get("content", "")))
            if int(cid) in self.store.channels
        }
        return {"users": users, "channels": channels}

    def _used(self, msg: JSON) -> JSON | None:
        """'Local User used /interrupt': the command a bot message answers, if any."""
        meta = msg.get("interaction_metadata")
        if not meta or int(meta.get("type", 0)) != 2:
            return None
        inter = self.interactions.live.get(int(meta["id"]))
        user = meta.get("user") or {}
        name = inter.data.get("name") if inter is not None else None
        return {"user": user.get("global_name") or user.get("username"), "command": name}

    def summary(self, msg: JSON, *, ephemeral: bool = False) -> JSON:
        author = msg["author"]
        flags = int(msg.get("flags") or 0)
        return {
            "id": msg["id"],
            "author": author.get("global_name") or author["username"],
            "bot": bool(author.get("bot")),
            "content": msg["content"],
            "timestamp": msg["timestamp"],
            "edited": msg.get("edited_timestamp") is not None,
            "loading": bool(flags & FLAG_LOADING),
            "ephemeral": ephemeral or bool(flags & FLAG_EPHEMERAL),
            "used": self._used(msg),
            "names": self._names(msg),
            "attachments": [
                {k: a.get(k) for k in ("filename", "url", "content_type", "size")}
                for a in msg["attachments"]
            ],
            "embeds": [_embed(e) for e in msg["embeds"]],
            "buttons": _components(msg.get("components") or []),
            "menus": _menus(msg.get("components") or []),
            "reactions": [
                {"emoji": r["emoji"]["name"], "count": r["count"]} for r in msg["reactions"]
            ],
            "thread": str(msg["thread"]["id"]) if msg.get("thread") else None,
        }

    def _private(self, inter: Interaction, now_mono: float) -> list[JSON]:
        """The answers only the invoker sees; a notice if the bot never acknowledged."""
        shown = [self.summary(m, ephemeral=True) for m in inter.ephemeral.values()]
        late = now_mono - inter.created > self.interactions.callback_timeout
        if not inter.acknowledged and not inter.responses and late:
            notice = {"id": str(inter.id), "author": self.store.bot.username, "bot": True}
            notice |= {"content": NOT_ANSWERED, "timestamp": None, "edited": False}
            notice |= {"loading": False, "ephemeral": True, "used": None, "attachments": []}
            notice |= {"names": {"users": {}, "channels": {}}, "embeds": [], "buttons": []}
            notice |= {"menus": []}
            shown.append(notice | {"reactions": []})
        return shown

    def _posted_since(self, typing: JSON) -> bool:
        """As on Discord, someone's message ends their typing indicator."""
        history = self.store.history.get(int(typing["channel_id"]), [])
        last = next((m for m in reversed(history) if m["author"]["id"] == typing["user_id"]), None)
        return (
            last is not None
            and datetime.fromisoformat(last["timestamp"]).timestamp() >= (typing["time"])
        )

    def commands(self) -> list[JSON]:
        """The bot's commands usable here: the guild's, then global ones of other names."""
        guild = self.interactions.commands.get(self.store.guild_id, [])
        names = {c["name"] for c in guild}
        everywhere = self.interactions.commands.get(None, [])
        merged = guild + [c for c in everywhere if c["name"] not in names]
        out = []
        for cmd in sorted(merged, key=lambda c: str(c["name"])):
            if int(cmd.get("type", 1)) != 1:
                continue  # user and message context-menu commands have no slash form
            options = [
                {k: o.get(k) for k in ("name", "description", "type", "required")}
                for o in cmd.get("options") or []
            ]
            out.append(
                {"name": cmd["name"], "description": cmd.get("description", "")}
                | {"options": options}
            )
        return out

    def fingerprint(self, revision: int) -> tuple[object, ...]:
        """Cheap, and different whenever :meth:`build` may differ, time apart: the server's
        event count (``revision``), the commands' versions, the page's interactions' answers.
        Requests that change nothing shown (the bot's reads, heartbeats) leave it alone."""
        commands = tuple(c["version"] for cmds in self.interactions.commands.values() for c in cmds)
        live = self.interactions.live
        mine = tuple(
            (i, len(x.responses), len(x.ephemeral), x.acknowledged, x.modal_closed)
            for i in self.mine
            if (x := live.get(i)) is not None
        )
        return revision, commands, mine

    def current(self, revision: int, now: float, now_mono: float) -> tuple[JSON, float | None]:
        """:meth:`build`, reused while the fingerprint stays and no wake-up time has passed
        (every long poll asks after every change; most changes are not the page's)."""
        mark = self.fingerprint(revision)
        cached = self._cache
        if cached is not None and cached[0] == mark and (cached[2] is None or now < cached[2]):
            return cached[1], cached[2]
        state, wake = self.build(now, now_mono)
        self._cache = (mark, state, wake)
        return state, wake

    def build(self, now: float, now_mono: float) -> tuple[JSON, float | None]:
        """The state, its version, and the wall-clock time it changes by itself (or None)."""
        st = self.store
        wake: list[float] = []
        typing: set[str] = set()
        for event in st.typing:
            if now - event["time"] < TYPING_SHOWN_S and not self._posted_since(event):
                typing.add(event["channel_id"])
                wake.append(event["time"] + TYPING_SHOWN_S)
        private: dict[str, list[JSON]] = {}
        forms: list[JSON] = []
        for iid in self.mine:
            inter = self.interactions.live.get(iid)
            if inter is None:
                continue
            if inter.open_modal is not None:
                forms.append(_form(inter, inter.open_modal))
            private.setdefault(str(inter.channel_id), []).extend(self._private(inter, now_mono))
            left = inter.created + self.interactions.callback_timeout - now_mono
            if not inter.acknowledged and not inter.responses and left > 0:
                wake.append(now + left)  # when "did not respond" would appear
        channels = []
        for cid, ch in st.channels.items():
            messages = [self.summary(m) for m in st.history[cid][-MESSAGES_SHOWN:]]
            messages += private.get(str(cid), [])
            messages.sort(key=lambda m: int(m["id"]))
            channel = {"id": str(cid), "name": ch["name"], "type": ch.get("type", 0)}
            channel |= {"parent_id": ch.get("parent_id"), "typing": str(cid) in typing}
            channel |= {"archived": bool(ch.get("thread_metadata", {}).get("archived"))}
            channels.append(channel | {"messages": messages})
        state: JSON = {"guild": {"id": str(st.guild_id), "name": st.guild_name}}
        state |= {"bot": st.bot.to_json(), "user": st.default_user.to_json()}
        state |= {"channels": channels, "commands": self.commands(), "forms": forms}
        digest = hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()[:20]
        return state | {"version": digest}, min(wake) if wake else None
