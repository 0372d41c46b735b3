"""Application commands and interactions of the local Discord server.

Kept apart from the message store because interactions have their own lifecycle (token, 3 s
acknowledgement window, ``@original`` message, followups) that the bridge's tests inspect through
:attr:`Interaction.responses`. Messages they create go through :class:`Store` so they are dispatched
and stored like any other bot message.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .store import (
    ATTACHMENT_SIZE_LIMIT,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    JSON,
    ApiError,
    LocalUser,
    Store,
    UploadedFile,
)

TOKEN_TTL_S = 15 * 60.0
# Option types for values given as plain Python objects (str, int, bool, float).
_OPTION_TYPES: tuple[tuple[type, int], ...] = ((bool, 5), (int, 4), (float, 10), (str, 3))


@dataclass
class Interaction:
    """An interaction the server created, with every response the bot made to it."""

    id: int
    token: str
    type: int
    channel_id: int
    user: LocalUser
    data: JSON
    message_id: int | None
    created: float = field(default_factory=time.monotonic)
    acknowledged: bool = False
    original_id: int | None = None
    responses: list[JSON] = field(default_factory=list)
    ephemeral: dict[int, JSON] = field(default_factory=dict)
    modal: JSON | None = None  # the form the bot opened in answer (callback type 9)
    modal_closed: bool = False  # submitted or dismissed by the user

    @property
    def open_modal(self) -> JSON | None:
        return None if self.modal_closed else self.modal


class Interactions:
    """Registered commands and live interactions; call only from the server's event loop."""

    def __init__(self, store: Store, *, callback_timeout: float = 3.0) -> None:
        self.store = store
        self.callback_timeout = callback_timeout
        self.commands: dict[int | None, list[JSON]] = {}
        self.live: dict[int, Interaction] = {}

    def set_commands(self, guild_id: int | None, commands: Sequence[JSON]) -> list[JSON]:
        """Bulk overwrite, keeping ids of commands that keep their name (as Discord does)."""
        old = {c["name"]: c for c in self.commands.get(guild_id, [])}
        stored = []
        for cmd in commands:
            prev = old.get(cmd["name"])
            cmd_id = prev["id"] if prev else str(self.store.ids.next())
            full: JSON = {"type": 1, "description": "", "options": [], "nsfw": False} | cmd
            full |= {"id": cmd_id, "application_id": str(self.store.application_id)}
            full |= {"version": str(self.store.ids.next()), "default_member_permissions": None}
            if guild_id is not None:
                full["guild_id"] = str(guild_id)
            stored.append(full)
        self.commands[guild_id] = stored
        self.store.on_change()
        return stored

    def upsert_command(self, guild_id: int | None, command: JSON) -> JSON:
        others = [c for c in self.commands.get(guild_id, []) if c["name"] != command["name"]]
        return self.set_commands(guild_id, [*others, command])[-1]

    def command_data(self, name: str, options: Mapping[str, Any] | Sequence[JSON] | None) -> JSON:
        """INTERACTION_CREATE ``data`` for a slash command, typed from its registration."""
        guild_cmds = self.commands.get(self.store.guild_id, [])
        cmd = next((c for c in guild_cmds if c["name"] == name), None)
        guild_cmd = cmd is not None
        cmd = cmd or next((c for c in self.commands.get(None, []) if c["name"] == name), None)
        cmd_id = cmd["id"] if cmd else str(self.store.ids.next())
        data: JSON = {"id": cmd_id, "name": name, "type": 1}
        if guild_cmd:
            data["guild_id"] = str(self.store.guild_id)
        if isinstance(options, Mapping):
            declared = {o["name"]: o.get("type") for o in (cmd or {}).get("options", [])}
            opts: list[JSON] = []
            for key, value in options.items():
                inferred = next(t for c, t in _OPTION_TYPES if isinstance(value, c))
                kind = declared.get(key) or inferred
                opts.append({"name": key, "type": kind, "value": value})
            data["options"] = opts
        elif options:
            data["options"] = list(options)
        return data

    def create(
        self, channel_id: int, kind: int, data: JSON, user: LocalUser, message_id: int | None
    ) -> Interaction:
        """Builds INTERACTION_CREATE with every field discord.py requires, and emits it."""
        st = self.store
        channel = st.channel(channel_id)
        user = st.ensure_user(user)
        message = st.message(channel_id, message_id) if message_id is not None else None
        expired = [k for k, v in self.live.items() if time.monotonic() - v.created > TOKEN_TTL_S]
        for key in expired:  # tokens last 15 minutes on Discord; forget them after that
            del self.live[key]
        token = secrets.token_urlsafe(32)
        inter = Interaction(st.ids.next(), token, kind, channel_id, user, data, message_id)
        self.live[inter.id] = inter
        member = st.member_json(user) | {"permissions": str(st.permissions_of(user))}
        payload: JSON = {"id": str(inter.id), "application_id": str(st.application_id)}
        payload |= {"type": kind, "data": data, "token": inter.token, "version": 1}
        payload |= {"guild_id": str(st.guild_id), "channel_id": str(channel_id)}
        payload |= {"channel": channel, "member": member, "locale": "en-US"}
        payload |= {"guild_locale": "en-US", "attachment_size_limit": ATTACHMENT_SIZE_LIMIT}
        payload |= {"app_permissions": str(st.permissions_of(st.bot)), "entitlements": []}
        payload |= {"guild": {"id": str(st.guild_id), "locale": "en-US", "features": []}}
        payload |= {"authorizing_integration_owners": {"0": str(st.guild_id)}, "context": 0}
        if message is not None:
            payload["message"] = message
        st.emit("INTERACTION_CREATE", payload)
        st.on_change()
        return inter

    def by_token(self, token: str) -> Interaction:
        for inter in self.live.values():
            if inter.token == token:
                return inter
        raise ApiError(404, 10015, "Unknown Webhook")

    def followup(
        self, inter: Interaction, data: Mapping[str, Any], files: list[UploadedFile]
    ) -> JSON:
        """POST /webhooks/{app}/{token}: a new message, except right after a deferred response.

        As on Discord, the first followup after a "thinking" defer (callback type 5) edits that
        loading message instead of leaving it behind empty, and keeps its ephemeral state.
        """
        original = self._original(inter)
        if original is None or not original["flags"] & FLAG_LOADING:
            return self.post(inter, data, files)
        body = {k: v for k, v in data.items() if k != "flags"}
        record: JSON = {"kind": "followup", "type": None, "data": dict(data)}
        inter.responses.append(record | {"message_id": original["id"]})
        return self.store.edit_message(original, body, files)

    def _original(self, inter: Interaction) -> JSON | None:
        mid = inter.original_id
        return None if mid is None else inter.ephemeral.get(mid) or self.store.by_id.get(mid)

    def post(
        self, inter: Interaction, data: Mapping[str, Any], files: list[UploadedFile], flags: int = 0
    ) -> JSON:
        """A message the bot posts through an interaction (response or a new followup)."""
        st = self.store
        flags |= int(data.get("flags") or 0)
        meta: JSON = {"id": str(inter.id), "type": inter.type, "user": inter.user.to_json()}
        meta["authorizing_integration_owners"] = {"0": str(st.guild_id)}
        extra: JSON = {"application_id": str(st.application_id), "interaction_metadata": meta}
        extra |= {"type": 20 if inter.type == 2 else 0, "flags": flags}
        ephemeral = bool(flags & FLAG_EPHEMERAL)
        msg = st.create_message(
            inter.channel_id, st.bot, data, files,
            webhook_id=st.application_id, extra=extra, store=not ephemeral,
        )  # fmt: skip
        if ephemeral:
            inter.ephemeral[int(msg["id"])] = msg
        inter.responses.append({"kind": "followup", "type": None, "data": dict(data)})
        return msg

    def callback(
        self, inter_id: int, token: str, body: Mapping[str, Any], files: list[UploadedFile]
    ) -> JSON:
        """POST /interactions/{id}/{token}/callback; returns the ``with_response`` body."""
        inter = self.live.get(inter_id)
        if inter is None or inter.token != token:
            raise ApiError(404, 10062, "Unknown interaction")
        if inter.acknowledged:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if time.monotonic() - inter.created > self.callback_timeout:
            raise ApiError(404, 10062, "Unknown interaction")
        kind, data = int(body["type"]), dict(body.get("data") or {})
        if kind == 9:
            _check_modal(inter, data)
            inter.modal = data
        inter.acknowledged = kind != 1
        msg: JSON | None = None
        if kind in (4, 5):
            loading = FLAG_LOADING if kind == 5 else 0
            deferred = {"flags": data.get("flags")}
            msg = self.post(inter, data if kind == 4 else deferred, files, loading)
            inter.responses.pop()  # recorded below as the callback itself
        elif kind in (6, 7) and inter.message_id is not None:
            msg = self.store.by_id[inter.message_id]
            if kind == 7:
                msg = self.store.edit_message(msg, data, files)
        inter.responses.append({"kind": "callback", "type": kind, "data": data})
        if msg is not None:
            inter.original_id = int(msg["id"])
        self.store.on_change()
        info: JSON = {"id": str(inter.id), "type": inter.type}
        info |= {"response_message_loading": kind == 5, "response_message_ephemeral": False}
        if msg is not None:
            info["response_message_id"] = msg["id"]
            info["response_message_ephemeral"] = bool(msg["flags"] & FLAG_EPHEMERAL)
        resource: JSON = {"type": kind} | ({"message": msg} if msg is not None else {})
        return {"interaction": info, "resource": resource}

    def submit_modal(self, inter_id: int, values: Mapping[str, str], user: LocalUser) -> int:
        """The user sends the form the bot opened for interaction `inter_id`: a MODAL_SUBMIT
        interaction (type 5) with each text input's value, about the same message."""
        inter = self.live.get(inter_id)
        modal = inter.open_modal if inter is not None else None
        if inter is None or modal is None:
            raise ValueError(f"interaction {inter_id} has no open form")
        rows: list[JSON] = []
        for field_ in _text_inputs(modal):
            value = str(values.get(field_["custom_id"], field_.get("value") or ""))
            if field_.get("required", True) and not value:
                raise ValueError(f"{field_.get('label') or field_['custom_id']} is required")
            if len(value) > int(field_.get("max_length") or 4000):
                raise ValueError(f"{field_.get('label') or field_['custom_id']} is too long")
            item = {"type": 4, "id": field_.get("id", 0), "custom_id": field_["custom_id"]}
            rows.append({"type": 1, "components": [item | {"value": value}]})
        inter.modal_closed = True
        data: JSON = {"custom_id": modal["custom_id"], "components": rows}
        return self.create(inter.channel_id, 5, data, user, inter.message_id).id

    def dismiss_modal(self, inter_id: int) -> None:
        """The user closes the form without sending it (Discord tells the bot nothing)."""
        inter = self.live.get(inter_id)
        if inter is not None and inter.modal is not None:
            inter.modal_closed = True
            self.store.on_change()

    def message(self, token: str, message_id: str) -> tuple[Interaction, JSON]:
        """The message ``@original`` or a followup id refers to, for an interaction token."""
        inter = self.by_token(token)
        if message_id == "@original":
            msg = self._original(inter)
        else:
            mid = int(message_id)
            msg = inter.ephemeral.get(mid) or self.store.by_id.get(mid)
        if msg is None:
            raise ApiError(404, 10008, "Unknown Message")
        return inter, msg

    def edit(self, token: str, message_id: str, body: JSON, files: list[UploadedFile]) -> JSON:
        inter, msg = self.message(token, message_id)
        record = {"kind": "edit", "type": None, "data": body, "message_id": msg["id"]}
        inter.responses.append(record)
        return self.store.edit_message(msg, body, files)

    def delete(self, token: str, message_id: str) -> None:
        inter, msg = self.message(token, message_id)
        record = {"kind": "delete", "type": None, "data": {}, "message_id": msg["id"]}
        inter.responses.append(record)
        inter.ephemeral.pop(int(msg["id"]), None)
        self.store.delete_message(msg)


def _text_inputs(modal: JSON) -> list[JSON]:
    """The text inputs of a form, in order: in action rows, or in labels (newer forms)."""
    found: list[JSON] = []
    for comp in modal.get("components") or []:
        inner = comp.get("components") or ([comp["component"]] if comp.get("component") else [])
        found += [c for c in inner if isinstance(c, dict) and c.get("type") == 4]
    return found


def _check_modal(inter: Interaction, data: JSON) -> None:
    """As Discord: a form answers a command or a component, with a title, an id, inputs."""
    if inter.type not in (2, 3):
        raise ApiError(400, 50035, "Invalid Form Body: a modal cannot answer this interaction")
    title = str(data.get("title") or "")
    if not title or len(title) > 45 or not data.get("custom_id"):
        raise ApiError(400, 50035, "Invalid Form Body: a modal needs a title and a custom_id")
    inputs = _text_inputs(data)
    if not 1 <= len(inputs) <= 5 or any(not i.get("custom_id") for i in inputs):
        raise ApiError(400, 50035, "Invalid Form Body: a modal needs 1 to 5 text inputs")
