"""Threads in the local Discord, as Discord has them: a thread is a channel of type 11
(public) with a parent channel and thread metadata.

Made from nothing (POST /channels/{id}/threads) or from a message (POST
/channels/{id}/messages/{mid}/threads: the thread's id is the message's id, and the
message carries the thread); archived and renamed with PATCH /channels/{id}; deleted with
DELETE /channels/{id}. Every change emits THREAD_CREATE, THREAD_UPDATE or THREAD_DELETE
as Discord does; a message posted in an archived (unlocked) thread unarchives it. Active
threads are in GUILD_CREATE's `threads`, never in its `channels`. Pure state over Store.
"""

from __future__ import annotations

from typing import Any

from vai.gateway.local_discord.store import JSON, ApiError, LocalUser, Store, form_error, now_iso

PUBLIC_THREAD = 11
PRIVATE_THREAD = 12
THREAD_TYPES = (PUBLIC_THREAD, PRIVATE_THREAD)
HAS_THREAD = 1 << 5  # a message's flag: a thread was started from it


def is_thread(channel: JSON) -> bool:
    return int(channel.get("type", 0)) in THREAD_TYPES


def archived(channel: JSON) -> bool:
    return bool(channel.get("thread_metadata", {}).get("archived"))


def active_threads(store: Store) -> list[JSON]:
    return [c for c in store.channels.values() if is_thread(c) and not archived(c)]


def _name(body: Any) -> str:
    name = str(body.get("name") or "").strip() if isinstance(body, dict) else ""
    if not name or len(name) > 100:
        raise form_error("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    return name


def create_thread(
    store: Store, parent_id: int, body: Any, owner: LocalUser, message_id: int | None = None
) -> JSON:
    """A new public thread in a text channel (from `message_id` when given)."""
    parent = store.channel(parent_id)
    if is_thread(parent) or int(parent.get("type", 0)) != 0:
        raise ApiError(400, 50024, "Cannot execute action on this channel type")
    name = _name(body)
    starter = None
    if message_id is not None:
        starter = store.message(parent_id, message_id)
        if starter.get("thread"):
            raise ApiError(400, 160004, "A thread has already been created for this message")
    thread_id = message_id if message_id is not None else store.ids.next()
    created = now_iso()
    duration = body.get("auto_archive_duration", 1440) if isinstance(body, dict) else 1440
    metadata: JSON = {"archived": False, "auto_archive_duration": int(duration or 1440)}
    metadata |= {"archive_timestamp": created, "locked": False, "create_timestamp": created}
    thread: JSON = {"id": str(thread_id), "type": PUBLIC_THREAD, "guild_id": str(store.guild_id)}
    thread |= {"parent_id": str(parent_id), "owner_id": str(owner.id), "name": name}
    thread |= {"last_message_id": None, "message_count": 0, "member_count": 1}
    thread |= {"rate_limit_per_user": 0, "flags": 0, "total_message_sent": 0}
    thread |= {"thread_metadata": metadata}
    store.channels[thread_id], store.history[thread_id] = thread, []
    store.emit("THREAD_CREATE", thread | {"newly_created": True})
    if starter is not None:
        starter["thread"] = thread
        starter["flags"] = int(starter.get("flags") or 0) | HAS_THREAD
        author = store.users.get(int(starter["author"]["id"]), store.bot)
        store.emit("MESSAGE_UPDATE", store.with_member(starter, author))
    store.on_change()
    return thread


def update_channel(store: Store, channel_id: int, body: Any) -> JSON:
    """PATCH /channels/{id}: a thread's name, archived and locked; a channel's name, topic."""
    channel = store.channel(channel_id)
    if not isinstance(body, dict):
        raise ApiError(400, 50035, "Invalid Form Body")
    if "name" in body:
        channel["name"] = _name(body)
    if not is_thread(channel):
        if "topic" in body:
            channel["topic"] = body["topic"]
        store.emit("CHANNEL_UPDATE", channel)
        store.on_change()
        return channel
    metadata = channel["thread_metadata"]
    for key in ("archived", "locked"):
        if key in body:
            metadata[key] = bool(body[key])
    if "archived" in body:
        metadata["archive_timestamp"] = now_iso()
    store.emit("THREAD_UPDATE", channel)
    store.on_change()
    return channel


def unarchive_for_message(store: Store, channel_id: int) -> None:
    """Posting in an archived thread brings it back, as on Discord (a locked one refuses)."""
    channel = store.channels.get(channel_id)
    if channel is None or not is_thread(channel) or not archived(channel):
        return
    if channel["thread_metadata"].get("locked"):
        raise ApiError(400, 50083, "Thread is archived")
    update_channel(store, channel_id, {"archived": False})


def delete_channel(store: Store, channel_id: int) -> JSON:
    """DELETE /channels/{id}: a thread (THREAD_DELETE) or a channel and its threads."""
    channel = store.channel(channel_id)
    doomed = [channel_id]
    if not is_thread(channel):
        doomed += [
            cid for cid, c in store.channels.items() if c.get("parent_id") == str(channel_id)
        ]
    for cid in reversed(doomed):
        gone = store.channels.pop(cid)
        for msg in store.history.pop(cid, []):
            store.by_id.pop(int(msg["id"]), None)
        if is_thread(gone):
            event = {"id": gone["id"], "guild_id": gone["guild_id"], "type": gone["type"]}
            store.emit("THREAD_DELETE", event | {"parent_id": gone["parent_id"]})
        else:
            store.emit("CHANNEL_DELETE", gone)
    store.on_change()
    return channel
