"""State of the local Discord server: one guild, its channels, messages, reactions, interactions.

Pure state, no I/O: every mutation calls ``emit(event, data)`` with the gateway event Discord would
send, and ``on_change()`` so waiters can re-check their predicates. The REST layer and the test
controls both go through these methods, so a user message posted by a test and a bot message
posted over REST look exactly alike to the client. Payloads use Discord's JSON shapes (snowflakes
as strings) because discord.py parses them as-is.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from .pings import Pings, pings

JSON = dict[str, Any]

DISCORD_EPOCH_MS = 1420070400000
MAX_CONTENT = 2000
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_REQUEST_BYTES = 25 * 1024 * 1024
NONCE_TTL_S = 180.0
ATTACHMENT_SIZE_LIMIT = MAX_FILE_BYTES
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
# View channel, send, embed links, attach files, read history, add reactions, external emojis,
# use application commands: what an ordinary member of a small private server has.
MEMBER_PERMISSIONS = (1 << 10) | (1 << 11) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 6)
MEMBER_PERMISSIONS |= (1 << 18) | (1 << 31)
ADMINISTRATOR = 1 << 3
ALL_PERMISSIONS = (1 << 50) - 1
_MENTION = re.compile(r"<@!?(\d+)>")
_ROLE_MENTION = re.compile(r"<@&(\d+)>")


class ApiError(Exception):
    """An error the REST layer turns into Discord's JSON error body and status."""

    def __init__(self, status: int, code: int, message: str, errors: JSON | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status, self.code, self.message, self.errors = status, code, message, errors

    def body(self) -> JSON:
        body: JSON = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def form_error(field_name: str, code: str, message: str) -> ApiError:
    """Discord's 50035 "Invalid Form Body", which discord.py flattens into its error text."""
    errors = {field_name: {"_errors": [{"code": code, "message": message}]}}
    return ApiError(400, 50035, "Invalid Form Body", errors)


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class Snowflakes:
    """Snowflake-like ids: time-based like Discord's, strictly increasing so order = id order."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        candidate = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(candidate, self._last + 1)
        return self._last


@dataclass(frozen=True)
class LocalUser:
    """A user of the local guild; roles are role ids of the guild."""

    id: int
    username: str
    bot: bool = False
    roles: tuple[int, ...] = ()
    global_name: str | None = None

    def to_json(self) -> JSON:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "bot": self.bot,
            "public_flags": 0,
        }


@dataclass(frozen=True)
class UploadedFile:
    """A file from a multipart request (``files[index]``) or a test's attachment."""

    index: int
    filename: str
    data: bytes
    content_type: str | None = None


class Store:
    """The whole server state. Call only from the server's event loop."""

    def __init__(
        self,
        emit: Callable[[str, JSON], None],
        on_change: Callable[[], None],
        *,
        guild_name: str = "Local Discord",
        bot_name: str = "Claude Bridge",
    ) -> None:
        self.emit, self.on_change = emit, on_change
        self.ids = Snowflakes()
        self.base_url = ""
        # Signs attachment paths (the URL's ``hm``), so that only holders of a URL can fetch it.
        self.sign_path: Callable[[str], str] = lambda path: ""
        self.guild_id = self.ids.next()
        self.guild_name = guild_name
        self.application_id = self.ids.next()
        bot_role = self.ids.next()
        self.roles: dict[int, JSON] = {}
        self._put_role(self.guild_id, "@everyone", MEMBER_PERMISSIONS, managed=False)
        self._put_role(bot_role, bot_name, ADMINISTRATOR, managed=True)
        self.bot = LocalUser(self.application_id, bot_name, bot=True, roles=(bot_role,))
        self.default_user = LocalUser(self.ids.next(), "local-user", global_name="Local User")
        self.users: dict[int, LocalUser] = {}
        self.joined: dict[int, str] = {}
        for user in (self.bot, self.default_user):
            self.users[user.id], self.joined[user.id] = user, now_iso()
        self.channels: dict[int, JSON] = {}
        self.hidden: set[int] = set()  # channels the bot cannot see (no View Channel)
        self.history: dict[int, list[JSON]] = {}
        self.by_id: dict[int, JSON] = {}
        self.files: dict[tuple[int, int], tuple[str, bytes, str]] = {}
        self.reactions: dict[int, dict[str, list[int]]] = {}
        self.pings: dict[int, Pings] = {}  # message id -> whom its post notified
        self.typing: deque[JSON] = deque(maxlen=10_000)
        self._nonces: dict[tuple[int, str], tuple[int, float]] = {}
        # A message in an archived thread unarchives it (set by the server: threads.py).
        self.before_thread_message: Callable[[int], None] = lambda channel_id: None

    # guild, roles, members, channels ------------------------------------------------------

    def _put_role(self, role_id: int, name: str, permissions: int, *, managed: bool) -> JSON:
        role: JSON = {"id": str(role_id), "name": name, "permissions": str(permissions)}
        role |= {"position": len(self.roles), "color": 0, "hoist": False, "managed": managed}
        role |= {"mentionable": False, "flags": 0}
        self.roles[role_id] = role
        return role

    def add_role(self, name: str, permissions: int = MEMBER_PERMISSIONS) -> int:
        role = self._put_role(self.ids.next(), name, permissions, managed=False)
        self.emit("GUILD_ROLE_CREATE", {"guild_id": str(self.guild_id), "role": role})
        self.on_change()
        return int(role["id"])

    def permissions_of(self, user: LocalUser) -> int:
        perms = 0
        for role_id in (self.guild_id, *user.roles):
            perms |= int(self.roles.get(role_id, {}).get("permissions", 0))
        return ALL_PERMISSIONS if perms & ADMINISTRATOR or user.id == self.owner_id else perms

    @property
    def owner_id(self) -> int:
        return self.default_user.id

    def member_json(self, user: LocalUser, *, with_user: bool = True) -> JSON:
        member: JSON = {"roles": [str(r) for r in user.roles], "joined_at": self.joined[user.id]}
        member |= {"nick": None, "avatar": None, "deaf": False, "mute": False, "flags": 0}
        member |= {"pending": False, "premium_since": None, "communication_disabled_until": None}
        if with_user:
            member["user"] = user.to_json()
        return member

    def ensure_user(self, user: LocalUser) -> LocalUser:
        """Registers a user as a guild member (GUILD_MEMBER_ADD) the first time it appears."""
        known = self.users.get(user.id)
        if known == user:
            return user
        self.users[user.id] = user
        self.joined.setdefault(user.id, now_iso())
        event = "GUILD_MEMBER_ADD" if known is None else "GUILD_MEMBER_UPDATE"
        self.emit(event, self.member_json(user) | {"guild_id": str(self.guild_id)})
        return user

    def add_channel(
        self, name: str, topic: str | None = None, channel_id: int | None = None
    ) -> int:
        """A text channel; `channel_id` pins its id (the bridge's configured channels)."""
        channel_id = self.ids.next() if channel_id is None else channel_id
        channel: JSON = {"id": str(channel_id), "type": 0, "guild_id": str(self.guild_id)}
        channel |= {"name": name, "position": len(self.channels), "permission_overwrites": []}
        channel |= {"topic": topic, "nsfw": False, "parent_id": None, "last_message_id": None}
        channel |= {"rate_limit_per_user": 0}
        self.channels[channel_id], self.history[channel_id] = channel, []
        self.emit("CHANNEL_CREATE", channel)
        self.on_change()
        return channel_id

    def channel(self, channel_id: int) -> JSON:
        try:
            return self.channels[channel_id]
        except KeyError:
            raise ApiError(404, 10003, "Unknown Channel") from None

    def guild_json(self) -> JSON:
        """The guild as GUILD_CREATE carries it: channels, roles and every member."""
        guild: JSON = {"id": str(self.guild_id), "name": self.guild_name, "icon": None}
        guild |= {"owner_id": str(self.owner_id), "unavailable": False, "large": False}
        guild |= {"features": [], "emojis": [], "stickers": [], "roles": list(self.roles.values())}
        guild |= {"member_count": len(self.users), "preferred_locale": "en-US"}
        channels = [c for cid, c in self.channels.items() if cid not in self.hidden]
        top = [c for c in channels if int(c.get("type", 0)) not in (11, 12)]
        active = [
            c
            for c in channels
            if int(c.get("type", 0)) in (11, 12) and not c["thread_metadata"]["archived"]
        ]
        guild |= {"channels": top, "threads": active, "voice_states": []}
        guild |= {"members": [self.member_json(u) for u in self.users.values()]}
        return guild | {"presences": [], "joined_at": self.joined[self.bot.id]}

    # messages -------------------------------------------------------------------------------

    def message(self, channel_id: int, message_id: int) -> JSON:
        self.channel(channel_id)
        msg = self.by_id.get(message_id)
        if msg is None or msg["channel_id"] != str(channel_id):
            raise ApiError(404, 10008, "Unknown Message")
        return msg

    def _attachments(self, channel_id: int, files: Iterable[UploadedFile], meta: Any) -> list[JSON]:
        described = {str(a.get("id")): a for a in meta or [] if isinstance(a, dict)}
        out: list[JSON] = []
        for f in files:
            info = described.get(str(f.index), {})
            name = str(info.get("filename") or f.filename)
            aid = self.ids.next()
            ctype = f.content_type or "application/octet-stream"
            # The name is only decoration in the URL: encode all of it so "../x" or "a/b"
            # stay one segment, and avoid "." / ".." which URL normalisation would eat.
            shown = quote(name, safe="") if name.strip(".") else "file"
            signature = self.sign_path(f"{channel_id}/{aid}")
            url = f"{self.base_url}/attachments/{channel_id}/{aid}/{shown}?hm={signature}"
            self.files[(channel_id, aid)] = (name, f.data, ctype)
            att: JSON = {"id": str(aid), "filename": name, "size": len(f.data), "url": url}
            att |= {"proxy_url": url, "content_type": ctype, "width": None, "height": None}
            if info.get("description"):
                att["description"] = info["description"]
            out.append(att)
        return out

    def _mentions(self, content: str) -> tuple[list[JSON], list[str]]:
        ids = dict.fromkeys(int(m) for m in _MENTION.findall(content))
        users = [self.users[i].to_json() for i in ids if i in self.users]
        roles = [r for r in dict.fromkeys(_ROLE_MENTION.findall(content)) if int(r) in self.roles]
        return users, roles

    def create_message(
        self,
        channel_id: int,
        author: LocalUser,
        body: Mapping[str, Any],
        files: Iterable[UploadedFile] = (),
        *,
        webhook_id: int | None = None,
        extra: JSON | None = None,
        store: bool = True,
    ) -> JSON:
        """Validates like Discord, stores, emits MESSAGE_CREATE; ``store=False``: ephemeral."""
        channel = self.channel(channel_id)
        if store and channel.get("thread_metadata", {}).get("archived"):
            self.before_thread_message(channel_id)
        files = list(files)
        content = str(body.get("content") or "")
        self._check_length(content)
        nonce = body.get("nonce")
        if nonce is not None and len(str(nonce)) > 25:
            raise form_error("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        if nonce is not None and body.get("enforce_nonce"):
            seen = self._nonces.get((channel_id, str(nonce)))
            if seen and time.monotonic() - seen[1] < NONCE_TTL_S and seen[0] in self.by_id:
                return self.by_id[seen[0]]
        embeds, components = list(body.get("embeds") or []), list(body.get("components") or [])
        loading = int((extra or {}).get("flags", 0)) & FLAG_LOADING
        if not (content or embeds or files or components or body.get("poll") or loading):
            raise ApiError(400, 50006, "Cannot send an empty message")
        ref_json = body.get("message_reference")
        referenced = None
        if isinstance(ref_json, dict) and ref_json.get("message_id"):
            referenced = self.by_id.get(int(ref_json["message_id"]))
            if referenced is None and ref_json.get("fail_if_not_exists", True):
                raise form_error("message_reference", "REPLIES_UNKNOWN_MESSAGE", "Unknown message")
        mentions, mention_roles = self._mentions(content)
        message_id = self.ids.next()
        msg: JSON = {"id": str(message_id), "channel_id": str(channel_id)}
        msg |= {"guild_id": str(self.guild_id), "author": author.to_json(), "content": content}
        msg |= {"timestamp": now_iso(), "edited_timestamp": None, "tts": bool(body.get("tts"))}
        msg |= {"mention_everyone": False, "mentions": mentions, "mention_roles": mention_roles}
        msg |= {"attachments": self._attachments(channel_id, files, body.get("attachments"))}
        msg |= {"embeds": embeds, "components": components, "reactions": [], "pinned": False}
        msg |= {"type": 19 if referenced else 0, "flags": int(body.get("flags") or 0)}
        if nonce is not None:
            msg["nonce"] = nonce
            self._remember_nonce(channel_id, str(nonce), message_id)
        if webhook_id is not None:
            msg["webhook_id"] = str(webhook_id)
        replied_author = int(referenced["author"]["id"]) if referenced is not None else None
        self.pings[message_id] = pings(content, body.get("allowed_mentions"), replied_author)
        if referenced is not None:
            ref: JSON = {"type": 0, "message_id": referenced["id"]}
            ref |= {"channel_id": str(channel_id), "guild_id": str(self.guild_id)}
            msg["message_reference"] = ref
            msg["referenced_message"] = referenced
        msg |= extra or {}
        if store:
            self.by_id[message_id] = msg
            self.history[channel_id].append(msg)
            channel["last_message_id"] = str(message_id)
            self.emit("MESSAGE_CREATE", self.with_member(msg, author, webhook_id))
        self.on_change()
        return msg

    def _remember_nonce(self, channel_id: int, nonce: str, message_id: int) -> None:
        now = time.monotonic()
        if len(self._nonces) >= 1000:
            self._nonces = {k: v for k, v in self._nonces.items() if now - v[1] < NONCE_TTL_S}
        self._nonces[(channel_id, nonce)] = (message_id, now)

    @staticmethod
    def _check_length(content: str) -> None:
        if len(content) > MAX_CONTENT:
            raise form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")

    def with_member(self, msg: JSON, author: LocalUser, webhook_id: int | None = None) -> JSON:
        """The gateway copy of a message: guild messages from members carry ``member``."""
        if webhook_id is not None or author.id not in self.users:
            return msg
        return msg | {"member": self.member_json(author, with_user=False)}

    def edit_message(
        self, msg: JSON, body: Mapping[str, Any], files: Iterable[UploadedFile] = ()
    ) -> JSON:
        """Applies a PATCH: only the fields present change; emits MESSAGE_UPDATE when visible."""
        channel_id = int(msg["channel_id"])
        if "content" in body:
            content = str(body["content"] or "")
            self._check_length(content)
            msg["content"] = content
            msg["mentions"], msg["mention_roles"] = self._mentions(content)
        for key in ("embeds", "components"):
            if key in body:
                msg[key] = list(body[key] or [])
        files = list(files)
        if "attachments" in body or files:
            keep_ids = {str(a.get("id")) for a in body.get("attachments") or msg["attachments"]}
            kept = [a for a in msg["attachments"] if a["id"] in keep_ids]
            new = self._attachments(channel_id, files, body.get("attachments"))
            msg["attachments"] = kept + new
        if "flags" in body and body["flags"] is not None:
            msg["flags"] = (msg["flags"] & FLAG_EPHEMERAL) | (int(body["flags"]) & ~FLAG_LOADING)
        msg["flags"] &= ~FLAG_LOADING
        msg["edited_timestamp"] = now_iso()
        if self.visible(msg):
            author = self.users.get(int(msg["author"]["id"]), self.bot)
            hook = int(msg["webhook_id"]) if msg.get("webhook_id") else None
            self.emit("MESSAGE_UPDATE", self.with_member(msg, author, hook))
        self.on_change()
        return msg

    def visible(self, msg: JSON) -> bool:
        """Whether a message is in channel history (ephemeral ones never are)."""
        return self.by_id.get(int(msg["id"])) is msg

    def delete_message(self, msg: JSON) -> None:
        channel_id = int(msg["channel_id"])
        if self.visible(msg):
            self.history[channel_id] = [m for m in self.history[channel_id] if m is not msg]
            event = {"id": msg["id"], "channel_id": msg["channel_id"]}
            self.emit("MESSAGE_DELETE", event | {"guild_id": str(self.guild_id)})
        self.by_id.pop(int(msg["id"]), None)
        self.on_change()

    def page(
        self, channel_id: int, limit: int, before: int | None, after: int | None, around: int | None
    ) -> list[JSON]:
        """GET /channels/{id}/messages: newest first, like Discord, whatever the anchor."""
        msgs = self.history[int(self.channel(channel_id)["id"])]
        if around is not None:
            older = [m for m in msgs if int(m["id"]) <= around][-((limit + 1) // 2) :]
            newer = [m for m in msgs if int(m["id"]) > around][: limit - len(older)]
            chosen = older + newer
        elif after is not None:
            chosen = [m for m in msgs if int(m["id"]) > after][:limit]
        else:
            bound = before if before is not None else 1 << 63
            chosen = [m for m in msgs if int(m["id"]) < bound][-limit:] if limit else []
        return list(reversed(chosen))

    # reactions and typing ------------------------------------------------------------------

    @staticmethod
    def emoji_json(emoji: str) -> JSON:
        name, _, emoji_id = emoji.rpartition(":") if ":" in emoji else (emoji, "", "")
        return {"id": emoji_id or None, "name": name.removeprefix("a:") if emoji_id else emoji}

    def react(self, msg: JSON, emoji: str, user: LocalUser, *, add: bool) -> None:
        """Adds or removes one user's reaction; emits only when something changed."""
        users = self.reactions.setdefault(int(msg["id"]), {}).setdefault(emoji, [])
        if (user.id in users) == add:
            return
        if add:
            users.append(user.id)
        else:
            users.remove(user.id)
        counts = self.reactions[int(msg["id"])]
        msg["reactions"] = [
            {"emoji": self.emoji_json(e), "count": len(u), "me": self.bot.id in u}
            | {"burst_count": 0, "me_burst": False, "burst_colors": []}
            | {"count_details": {"burst": 0, "normal": len(u)}}
            for e, u in counts.items()
            if u
        ]
        event: JSON = {"user_id": str(user.id), "channel_id": msg["channel_id"]}
        event |= {"message_id": msg["id"], "guild_id": str(self.guild_id)}
        event |= {"emoji": self.emoji_json(emoji), "burst": False, "type": 0}
        if add:
            event["member"] = self.member_json(user)
            event["message_author_id"] = msg["author"]["id"]
        self.emit("MESSAGE_REACTION_ADD" if add else "MESSAGE_REACTION_REMOVE", event)
        self.on_change()

    def start_typing(self, channel_id: int, user: LocalUser) -> None:
        self.channel(channel_id)
        event: JSON = {"channel_id": str(channel_id), "guild_id": str(self.guild_id)}
        event |= {"user_id": str(user.id), "timestamp": int(time.time())}
        self.typing.append(event | {"time": time.time()})
        self.emit("TYPING_START", event | {"member": self.member_json(user)})
        self.on_change()
