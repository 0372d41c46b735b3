"""LocalDiscord: a Discord-compatible server the real discord.py client can log into.

It serves REST under ``/api/v10``, the gateway at ``/gateway`` and a small chat page at ``/``, all
on one plain-HTTP port; the chat page opens only with the per-run key in :attr:`page_url`. Tests
drive it through the controls below (post as a user, click buttons, run slash commands, force
disconnects and 429s) and wait on its state with :meth:`wait_for`, which wakes on every state
change instead of polling. ``vai run`` embeds it when no bot token is given.
All methods must be called on the event loop that ran :meth:`start` (see
:class:`~gateway.local_discord.threaded.LocalDiscordThread` for other threads).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from aiohttp import web

from . import chat_page
from .gateway_ws import Gateway
from .interactions import Interactions
from .page_access import KEY_PARAM, PageAccess, new_key
from .ratelimit import RateLimiter
from .rest import RequestRecord, RestApi
from .store import JSON, LocalUser, Store, UploadedFile
from .threads import create_thread, delete_channel, unarchive_for_message, update_channel

T = TypeVar("T")


def _checked_values(comp: JSON, values: Sequence[str]) -> list[str]:
    """A select menu's picks as Discord checks them: known values, within min/max."""
    known = [str(o.get("value")) for o in comp.get("options") or []]
    picked = [str(v) for v in values]
    low, high = int(comp.get("min_values", 1)), int(comp.get("max_values", 1))
    if any(v not in known for v in picked) or len(set(picked)) != len(picked):
        raise ValueError(f"values {picked!r} are not options of {comp.get('custom_id')!r}")
    if not low <= len(picked) <= high:
        raise ValueError(f"pick {low} to {high} options of {comp.get('custom_id')!r}")
    return picked


def _find_component(components: Iterable[JSON], custom_id: str) -> JSON | None:
    for comp in components:
        if comp.get("custom_id") == custom_id:
            return comp
        found = _find_component(comp.get("components") or [], custom_id)
        if found is not None:
            return found
    return None


class LocalDiscord:
    """One guild, its channels, a bot application and a default human user, on 127.0.0.1."""

    def __init__(  # noqa: PLR0917 (the documented positional order)
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = "test-token",
        message_content_intent_enabled: bool = True,
        heartbeat_interval_ms: int = 41250,
        rate_limits: bool = True,
        *,
        guild_name: str = "Local Discord",
        bot_name: str = "Claude Bridge",
        interaction_timeout: float = 3.0,
        channels: Iterable[str] = (),
        page_key: str | None = None,
    ) -> None:
        self.host, self.port, self.token = host, port, token
        self._changed = asyncio.Event()
        self.closing = False
        self.revision = 0
        self.access = PageAccess(page_key or new_key())
        self.store = Store(self._emit, self._notify, guild_name=guild_name, bot_name=bot_name)
        self.store.before_thread_message = lambda cid: unarchive_for_message(self.store, cid)
        self.store.sign_path = self.access.sign
        self.interactions = Interactions(self.store, callback_timeout=interaction_timeout)
        self.limiter = RateLimiter(enabled=rate_limits)
        self.gateway = Gateway(
            self.store,
            token=token,
            message_content_enabled=message_content_intent_enabled,
            heartbeat_interval_ms=heartbeat_interval_ms,
            resume_url=lambda: self.gateway_url,
            on_change=self._notify,
        )
        self.rest = RestApi(
            self.store,
            self.interactions,
            self.limiter,
            token=token,
            gateway_url=lambda: self.gateway_url,
            message_content_enabled=message_content_intent_enabled,
        )
        self._runner: web.AppRunner | None = None
        for name in channels:
            self.add_channel(name)

    # lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        guard = chat_page.host_guard(self.host)
        middlewares = [guard, self.access.middleware(), self.rest.middleware]
        app = web.Application(middlewares=middlewares, client_max_size=64 * 2**20)
        app.add_routes(self.rest.routes())
        app.router.add_get("/gateway", self.gateway.handle)
        chat_page.register(app, self)
        self.closing = False
        self._runner = web.AppRunner(
            app, handle_signals=False, access_log=None, shutdown_timeout=2.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.store.base_url = self.base_url
        for msgs in self.store.history.values():  # attachments posted before start
            for att in (a for m in msgs for a in m["attachments"]):
                att["url"] = att["proxy_url"] = self.base_url + att["url"]

    async def stop(self) -> None:
        self.closing = True
        self._notify()  # the chat page's long polls answer now
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> LocalDiscord:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def page_key(self) -> str:
        """The per-run secret that opens the chat page (see :mod:`.page_access`)."""
        return self.access.key

    @property
    def page_url(self) -> str:
        """The chat page's address for its operator: it carries the key."""
        return f"{self.base_url}/?{KEY_PARAM}={self.page_key}"

    @property
    def api_url(self) -> str:
        return self.base_url + "/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gateway"

    # identities --------------------------------------------------------------------------------

    @property
    def guild_id(self) -> int:
        return self.store.guild_id

    @property
    def application_id(self) -> int:
        return self.store.application_id

    @property
    def bot_user_id(self) -> int:
        return self.store.bot.id

    @property
    def default_user(self) -> LocalUser:
        return self.store.default_user

    def make_user(
        self, username: str, *, bot: bool = False, roles: Sequence[int] = (), id: int | None = None
    ) -> LocalUser:
        """A new guild member (GUILD_MEMBER_ADD is dispatched)."""
        user_id = self.store.ids.next() if id is None else id
        return self.store.ensure_user(LocalUser(user_id, username, bot, tuple(roles)))

    def _user(self, user: LocalUser | Mapping[str, Any] | None) -> LocalUser:
        if user is None:
            return self.store.default_user
        if isinstance(user, LocalUser):
            return self.store.ensure_user(user)
        uid = int(user.get("id") or self.store.ids.next())
        roles = tuple(int(r) for r in user.get("roles") or ())
        name = str(user.get("username", f"user-{uid}"))
        local = LocalUser(uid, name, bool(user.get("bot")), roles)
        return self.store.ensure_user(local)

    # state changes ------------------------------------------------------------------------------

    def _emit(self, event: str, data: JSON) -> None:
        self.revision += 1  # every change a client could see (the chat page watches it)
        channel = data.get("channel_id") or (
            data.get("id") if event.startswith("CHANNEL_") else None
        )
        if channel is not None and int(channel) in self.store.hidden:
            return  # the bot cannot see the channel, so it hears nothing of it
        self.gateway.dispatch(event, data)

    def _notify(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def next_change(self) -> asyncio.Event:
        """The event set at the next state change (take it before looking at the state)."""
        return self._changed

    async def changed(self) -> None:
        """Returns at the next state change (to wait on several event sources at once)."""
        await self._changed.wait()

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, what: str = "") -> T:
        """Returns the predicate's first truthy result, re-checked on every state change."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                name = what or getattr(predicate, "__name__", repr(predicate))
                raise TimeoutError(f"LocalDiscord: {name} still false after {timeout:.1f}s")
            changed = self._changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    # channels, roles, messages ----------------------------------------------------------------

    def add_channel(
        self, name: str, topic: str | None = None, channel_id: int | None = None
    ) -> int:
        return self.store.add_channel(name, topic, channel_id)

    def add_role(self, name: str, permissions: int | None = None) -> int:
        if permissions is None:
            return self.store.add_role(name)
        return self.store.add_role(name, permissions)

    def create_thread(
        self,
        channel_id: int,
        name: str,
        *,
        message_id: int | None = None,
        user: LocalUser | Mapping[str, Any] | None = None,
    ) -> int:
        """A user starts a public thread in a channel (from a message when given)."""
        thread = create_thread(self.store, channel_id, {"name": name}, self._user(user), message_id)
        return int(thread["id"])

    def archive_thread(self, thread_id: int, archived: bool = True) -> None:
        update_channel(self.store, thread_id, {"archived": archived})

    def delete_channel(self, channel_id: int) -> None:
        delete_channel(self.store, channel_id)

    def channels(self) -> dict[int, str]:
        return {cid: str(ch["name"]) for cid, ch in self.store.channels.items()}

    def post_user_message(
        self,
        channel_id: int,
        content: str = "",
        *,
        author: LocalUser | Mapping[str, Any] | None = None,
        attachments: Iterable[tuple[str, bytes]] = (),
        embeds: Sequence[JSON] = (),
        reply_to: int | None = None,
        webhook_id: int | None = None,
    ) -> JSON:
        """A message from a human (or a bot/webhook given in ``author``), dispatched to bots."""
        if isinstance(author, Mapping) and author.get("webhook_id"):
            webhook_id = int(author["webhook_id"])
        if webhook_id is not None:
            name = author.get("username", "webhook") if isinstance(author, Mapping) else "webhook"
            user = LocalUser(webhook_id, str(name), bot=True)
        else:
            user = self._user(author)
        files = [UploadedFile(i, name, data) for i, (name, data) in enumerate(attachments)]
        body: JSON = {"content": content, "embeds": list(embeds)}
        if reply_to is not None:
            body["message_reference"] = {"message_id": str(reply_to)}
        return self.store.create_message(channel_id, user, body, files, webhook_id=webhook_id)

    def messages(self, channel_id: int) -> list[JSON]:
        """Every message of the channel, oldest first (users' and the bot's)."""
        return list(self.store.history[channel_id])

    def message(self, channel_id: int, message_id: int) -> JSON:
        return self.store.message(channel_id, message_id)

    def attachment_bytes(self, channel_id: int, attachment_id: int) -> bytes:
        return self.store.files[(channel_id, attachment_id)][1]

    def reactions(self, channel_id: int, message_id: int) -> dict[str, list[int]]:
        """Emoji -> ids of the users who reacted, in order (empty emoji entries left out)."""
        self.store.message(channel_id, message_id)
        found = self.store.reactions.get(message_id, {})
        return {emoji: list(users) for emoji, users in found.items() if users}

    def react_as_user(
        self, channel_id: int, message_id: int, emoji: str, *, user: LocalUser | None = None,
        remove: bool = False,
    ) -> None:  # fmt: skip
        msg = self.store.message(channel_id, message_id)
        self.store.react(msg, emoji, self._user(user), add=not remove)

    @property
    def typing_events(self) -> list[JSON]:
        """TYPING_START events (channel_id, user_id, timestamp, time) in order."""
        return list(self.store.typing)

    # interactions --------------------------------------------------------------------------------

    def click_button(
        self,
        channel_id: int,
        message_id: int,
        custom_id: str,
        *,
        user: LocalUser | Mapping[str, Any] | None = None,
        values: Sequence[str] | None = None,
    ) -> int:
        """A user clicks a component of a message; returns the interaction id."""
        msg = self.store.message(channel_id, message_id)
        comp = _find_component(msg.get("components") or [], custom_id)
        if comp is None:
            raise ValueError(f"message {message_id} has no component with custom_id {custom_id!r}")
        if comp.get("disabled"):
            raise ValueError(f"component {custom_id!r} of message {message_id} is disabled")
        kind = int(comp.get("type", 2))
        data: JSON = {"custom_id": custom_id, "component_type": kind}
        if kind == 3:
            data["values"] = _checked_values(comp, values or [])
        elif values is not None:
            data["values"] = list(values)
        return self.interactions.create(channel_id, 3, data, self._user(user), message_id).id

    def submit_modal(
        self,
        interaction_id: int,
        values: Mapping[str, str],
        *,
        user: LocalUser | Mapping[str, Any] | None = None,
    ) -> int:
        """A user sends the form (modal) the bot opened in answer to `interaction_id`;
        `values` maps each text input's custom_id to its text. Returns the new interaction."""
        return self.interactions.submit_modal(interaction_id, values, self._user(user))

    def open_modal(self, interaction_id: int) -> JSON | None:
        """The form the bot opened in answer to an interaction, while not yet sent."""
        inter = self.interactions.live.get(interaction_id)
        return None if inter is None else inter.open_modal

    def invoke_command(
        self,
        channel_id: int,
        name: str,
        options: Mapping[str, Any] | Sequence[JSON] | None = None,
        *,
        user: LocalUser | Mapping[str, Any] | None = None,
    ) -> int:
        """A user runs slash command ``name``; returns the interaction id."""
        data = self.interactions.command_data(name, options)
        return self.interactions.create(channel_id, 2, data, self._user(user), None).id

    def interaction_responses(self, interaction_id: int) -> list[JSON]:
        """What the bot did with an interaction: dicts with kind (callback/followup/edit/delete),
        type (the callback type) and data."""
        return list(self.interactions.live[interaction_id].responses)

    def commands(self, *, guild: bool = False) -> list[JSON]:
        return list(self.interactions.commands.get(self.guild_id if guild else None, []))

    # failures and observability -------------------------------------------------------------------

    def inject_429(
        self,
        method: str,
        path_regex: str,
        count: int = 1,
        retry_after: float = 0.1,
        *,
        via: bool = True,
        global_: bool = False,
    ) -> None:
        """The next ``count`` matching requests get 429 (without ``Via``, discord.py gives up)."""
        self.limiter.inject(method, path_regex, count, retry_after, via=via, global_=global_)

    def inject_drop(self, method: str, path_regex: str, count: int = 1) -> None:
        """The next ``count`` matching requests take effect, then the connection is cut
        before the response (the client cannot know whether they did)."""
        self.rest.inject_drop(method, path_regex, count)

    def hide_channel(self, channel_id: int) -> None:
        """The bot loses sight of a channel (as without View Channel): it is left out of
        GUILD_CREATE, its events are not sent to the bot, and REST answers 403 50001."""
        self.store.channel(channel_id)
        self.store.hidden.add(channel_id)

    def disconnect(self, code: int | None = 4000) -> None:
        """Closes every gateway connection (1006/None: drop TCP); sessions stay resumable."""
        self.gateway.disconnect(code)

    def send_reconnect(self) -> None:
        self.gateway.send_reconnect()

    def invalidate_sessions(self, *, resumable: bool = False) -> None:
        self.gateway.invalidate_sessions(resumable=resumable)

    @property
    def request_log(self) -> list[RequestRecord]:
        return list(self.rest.request_log)

    @property
    def invalid_request_count(self) -> int:
        return self.rest.invalid_request_count

    @property
    def identify_count(self) -> int:
        return self.gateway.identify_count

    @property
    def resume_count(self) -> int:
        return self.gateway.resume_count

    @property
    def connected_sessions(self) -> int:
        """Gateway sessions that currently have a live connection."""
        return sum(1 for s in self.gateway.sessions.values() if s.conn is not None)
