"""LocalDiscordThread: the local Discord server on its own event loop, for synchronous code.

Tests of the bridge run the gateway in another process or loop and only need to act as the user
and observe the server, so they use this wrapper: each control runs on the server's loop and
returns its result. Calls made from the server's own thread (for example inside a ``wait_for``
predicate) run directly instead of deadlocking on themselves.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import TracebackType
from typing import Any, TypeVar

from .pings import Pings
from .rest import RequestRecord
from .server import LocalDiscord
from .store import JSON, LocalUser

T = TypeVar("T")


class LocalDiscordThread:
    """Context manager; takes the same arguments as :class:`LocalDiscord`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args, self._kwargs = args, kwargs
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: LocalDiscord | None = None

    def __enter__(self) -> LocalDiscordThread:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self, timeout: float = 10.0) -> None:
        started: concurrent.futures.Future[LocalDiscord] = concurrent.futures.Future()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                server = LocalDiscord(*self._args, **self._kwargs)
                loop.run_until_complete(server.start())
            except BaseException as exc:
                started.set_exception(exc)
                loop.close()
                return
            started.set_result(server)
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(server.stop())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="local-discord", daemon=True)
        self._thread.start()
        self._server = started.result(timeout)

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10.0)
        self._thread = None

    @property
    def server(self) -> LocalDiscord:
        """The server itself; touch it only on its own thread (inside :meth:`call`)."""
        if self._server is None:
            raise RuntimeError("LocalDiscordThread is not started")
        return self._server

    def call(self, fn: Callable[[LocalDiscord], T], timeout: float = 10.0) -> T:
        """Runs ``fn(server)`` on the server's loop and returns its result."""
        server, loop = self.server, self._loop
        assert loop is not None
        if threading.current_thread() is self._thread:
            return fn(server)

        async def run() -> T:
            return fn(server)

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout)

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0, what: str = "") -> T:
        """Blocks until ``predicate()`` (run on the server's thread) is truthy, or TimeoutError."""
        server, loop = self.server, self._loop
        assert loop is not None
        future = asyncio.run_coroutine_threadsafe(server.wait_for(predicate, timeout, what), loop)
        return future.result(timeout + 5.0)

    # the controls, forwarded -------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return self.server.api_url

    @property
    def gateway_url(self) -> str:
        return self.server.gateway_url

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def page_url(self) -> str:
        return self.server.page_url

    @property
    def page_key(self) -> str:
        return self.server.page_key

    @property
    def guild_id(self) -> int:
        return self.server.guild_id

    @property
    def application_id(self) -> int:
        return self.server.application_id

    @property
    def bot_user_id(self) -> int:
        return self.server.bot_user_id

    @property
    def default_user(self) -> LocalUser:
        return self.server.default_user

    def add_channel(
        self, name: str, topic: str | None = None, channel_id: int | None = None
    ) -> int:
        return self.call(lambda s: s.add_channel(name, topic, channel_id))

    def create_thread(
        self,
        channel_id: int,
        name: str,
        *,
        message_id: int | None = None,
        user: LocalUser | Mapping[str, Any] | None = None,
    ) -> int:
        return self.call(
            lambda s: s.create_thread(channel_id, name, message_id=message_id, user=user)
        )

    def archive_thread(self, thread_id: int, archived: bool = True) -> None:
        self.call(lambda s: s.archive_thread(thread_id, archived))

    def delete_channel(self, channel_id: int) -> None:
        self.call(lambda s: s.delete_channel(channel_id))

    def add_role(self, name: str, permissions: int | None = None) -> int:
        return self.call(lambda s: s.add_role(name, permissions))

    def make_user(
        self, username: str, *, bot: bool = False, roles: Sequence[int] = ()
    ) -> LocalUser:
        return self.call(lambda s: s.make_user(username, bot=bot, roles=roles))

    def post_user_message(
        self,
        channel_id: int,
        content: str = "",
        *,
        author: LocalUser | Mapping[str, Any] | None = None,
        attachments: Iterable[tuple[str, bytes]] = (),
        reply_to: int | None = None,
    ) -> JSON:
        files = list(attachments)
        return self.call(
            lambda s: s.post_user_message(
                channel_id, content, author=author, attachments=files, reply_to=reply_to
            )
        )

    def messages(self, channel_id: int) -> list[JSON]:
        return self.call(lambda s: s.messages(channel_id))

    def message(self, channel_id: int, message_id: int) -> JSON:
        return self.call(lambda s: s.message(channel_id, message_id))

    def pings(self, message_id: int) -> Pings | None:
        """Whom posting that message notified (None: not a posted message)."""
        return self.call(lambda s: s.store.pings.get(message_id))

    def attachment_bytes(self, channel_id: int, attachment_id: int) -> bytes:
        return self.call(lambda s: s.attachment_bytes(channel_id, attachment_id))

    def reactions(self, channel_id: int, message_id: int) -> dict[str, list[int]]:
        return self.call(lambda s: s.reactions(channel_id, message_id))

    @property
    def typing_events(self) -> list[JSON]:
        return self.call(lambda s: s.typing_events)

    def click_button(
        self,
        channel_id: int,
        message_id: int,
        custom_id: str,
        *,
        user: LocalUser | Mapping[str, Any] | None = None,
        values: Sequence[str] | None = None,
    ) -> int:
        return self.call(
            lambda s: s.click_button(channel_id, message_id, custom_id, user=user, values=values)
        )

    def invoke_command(
        self,
        channel_id: int,
        name: str,
        options: Mapping[str, Any] | Sequence[JSON] | None = None,
        *,
        user: LocalUser | Mapping[str, Any] | None = None,
    ) -> int:
        return self.call(lambda s: s.invoke_command(channel_id, name, options, user=user))

    def interaction_responses(self, interaction_id: int) -> list[JSON]:
        return self.call(lambda s: s.interaction_responses(interaction_id))

    def submit_modal(
        self,
        interaction_id: int,
        values: Mapping[str, str],
        *,
        user: LocalUser | Mapping[str, Any] | None = None,
    ) -> int:
        return self.call(lambda s: s.submit_modal(interaction_id, values, user=user))

    def open_modal(self, interaction_id: int) -> JSON | None:
        return self.call(lambda s: s.open_modal(interaction_id))

    def commands(self, *, guild: bool = False) -> list[JSON]:
        return self.call(lambda s: s.commands(guild=guild))

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
        self.call(
            lambda s: s.inject_429(method, path_regex, count, retry_after, via=via, global_=global_)
        )

    def inject_drop(self, method: str, path_regex: str, count: int = 1) -> None:
        self.call(lambda s: s.inject_drop(method, path_regex, count))

    def hide_channel(self, channel_id: int) -> None:
        self.call(lambda s: s.hide_channel(channel_id))

    def disconnect(self, code: int | None = 4000) -> None:
        self.call(lambda s: s.disconnect(code))

    def send_reconnect(self) -> None:
        self.call(lambda s: s.send_reconnect())

    @property
    def request_log(self) -> list[RequestRecord]:
        return self.call(lambda s: s.request_log)

    @property
    def invalid_request_count(self) -> int:
        return self.call(lambda s: s.invalid_request_count)

    @property
    def identify_count(self) -> int:
        return self.call(lambda s: s.identify_count)

    @property
    def resume_count(self) -> int:
        return self.call(lambda s: s.resume_count)
