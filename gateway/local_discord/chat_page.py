"""The chat page of the local Discord server: the operator talks to the bot from a browser.

``GET /`` serves ``chat_page.html`` (its script and style are files under ``/static/``, so the
page's Content-Security-Policy can forbid inline script). The page long-polls
``GET /local/state?after=VERSION`` (answered at the next change, see :mod:`.page_state`), posts
what is typed to ``POST /local/channels/{id}/messages`` and clicks buttons through
``.../messages/{id}/click`` (with ``values`` for a select menu), and sends or closes a form
the bot opened through ``/local/interactions/{id}/form``. Those go through the same controls
the tests use, so the bot sees ordinary Discord events: a message, or, when the text starts
with ``/`` and names one of the bot's registered commands, an APPLICATION_COMMAND interaction.

Who may use it is decided by :mod:`.page_access` (per-run key, cookie, Origin); on top of that the
POSTs require a JSON body (cross-site forms and ``text/plain`` fetches cannot send one) and
:func:`host_guard` rejects foreign ``Host`` headers (DNS rebinding).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from .command_line import CommandLineError, find_command, parse_options
from .page_state import PageView
from .store import JSON, ApiError, LocalUser

if TYPE_CHECKING:
    from .server import LocalDiscord

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD = frozenset({"", "0.0.0.0", "::"})
LONG_POLL_S = 20.0
STATIC = {"chat_page.js": "text/javascript", "chat_page.css": "text/css"}
PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self';"
        " connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _json(data: Any, status: int = 200) -> web.Response:
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
    return web.Response(body=json.dumps(data).encode(), status=status, headers=headers)


def _error(status: int, message: str) -> web.Response:
    return _json({"message": message, "code": 0}, status)


def host_guard(bound_host: str) -> Middleware:
    """Middleware: only Host names that mean this machine (or the bound address) are served."""
    allowed = None if bound_host in WILDCARD else LOOPBACK | {bound_host.strip("[]")}

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        name = request.url.host or ""
        if allowed is not None and name.strip("[]") not in allowed:
            return _json({"message": "403: Forbidden host", "code": 0}, 403)
        return await handler(request)

    return guard


def register(app: web.Application, server: LocalDiscord) -> None:
    """Adds ``/``, ``/static/*`` and ``/local/*`` to the server's application."""
    files = resources.files(__package__)
    page = files.joinpath("chat_page.html").read_bytes()
    static = {name: files.joinpath(name).read_bytes() for name in STATIC}
    view = PageView(server.store, server.interactions)
    users: dict[str, LocalUser] = {}

    def author(body: JSON) -> LocalUser:
        name = str(body.get("username") or "").strip()[:32]
        if not name:
            return server.default_user
        if name not in users:
            users[name] = server.make_user(name)
        return users[name]

    async def json_body(request: web.Request) -> JSON:
        if request.content_type != "application/json":
            raise web.HTTPForbidden(text="403: JSON from this page only\n")
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="400: a JSON object is expected\n")
        return body

    async def index(request: web.Request) -> web.Response:
        return web.Response(body=page, headers=PAGE_HEADERS)

    async def asset(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in static:
            raise web.HTTPNotFound()
        headers = {"Content-Type": STATIC[name], "X-Content-Type-Options": "nosniff"}
        return web.Response(body=static[name], headers=headers | {"Cache-Control": "no-cache"})

    async def state(request: web.Request) -> web.Response:
        """The state once it differs from version ``after`` (or after LONG_POLL_S)."""
        after = request.query.get("after", "")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LONG_POLL_S
        while True:
            changed = server.next_change()  # taken before looking, so no change is missed
            snapshot, wake_at = view.current(server.revision, time.time(), time.monotonic())
            remaining = deadline - loop.time()
            if snapshot["version"] != after or remaining <= 0 or server.closing:
                return _json(snapshot)
            if wake_at is not None:
                remaining = min(remaining, max(0.05, wake_at - time.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    async def post(request: web.Request) -> web.Response:
        body = await json_body(request)
        content = str(body.get("content", ""))
        try:
            channel_id = int(request.match_info["cid"])
            command = find_command(content.strip(), view.commands())
            if command is not None:
                options = parse_options(command, content.strip())
                iid = server.invoke_command(channel_id, command["name"], options, user=author(body))
                view.started(iid)
                return _json({"interaction_id": str(iid)})
            msg = server.post_user_message(channel_id, content, author=author(body))
        except ApiError as exc:
            return _json(exc.body(), exc.status)
        except CommandLineError as exc:
            return _error(400, str(exc))
        except ValueError:
            return _error(400, "bad request")
        return _json({"message": view.summary(msg)})

    async def click(request: web.Request) -> web.Response:
        body = await json_body(request)
        values = body.get("values")
        try:
            iid = server.click_button(
                int(request.match_info["cid"]),
                int(request.match_info["mid"]),
                str(body["custom_id"]),
                user=author(body),
                values=[str(v) for v in values] if isinstance(values, list) else None,
            )
        except ApiError as exc:
            return _json(exc.body(), exc.status)
        except (ValueError, KeyError) as exc:
            return _error(400, str(exc))
        view.started(iid)
        return _json({"interaction_id": str(iid)})

    async def start_thread(request: web.Request) -> web.Response:
        """A thread from a message, named after its first words (as Discord suggests)."""
        body = await json_body(request)
        try:
            cid, mid = int(request.match_info["cid"]), int(request.match_info["mid"])
            words = " ".join(str(server.message(cid, mid)["content"]).split())[:40]
            name = str(body.get("name") or words or "thread")
            tid = server.create_thread(cid, name, message_id=mid, user=author(body))
        except ApiError as exc:
            return _json(exc.body(), exc.status)
        except ValueError:
            return _error(400, "bad request")
        return _json({"thread_id": str(tid)})

    async def archive(request: web.Request) -> web.Response:
        body = await json_body(request)
        try:
            server.archive_thread(int(request.match_info["cid"]), bool(body.get("archived", True)))
        except ApiError as exc:
            return _json(exc.body(), exc.status)
        except ValueError:
            return _error(400, "bad request")
        return _json({})

    async def form(request: web.Request) -> web.Response:
        """The page's user sends (``values``) or closes (``dismiss``) a form the bot opened."""
        body = await json_body(request)
        try:
            opened = int(request.match_info["iid"])
            if opened not in view.mine:
                return _error(404, "no such form")
            if body.get("dismiss"):
                server.interactions.dismiss_modal(opened)
                return _json({})
            values = body.get("values")
            if not isinstance(values, dict):
                return _error(400, "values are expected")
            texts = {str(k): str(v) for k, v in values.items()}
            iid = server.submit_modal(opened, texts, user=author(body))
        except ApiError as exc:
            return _json(exc.body(), exc.status)
        except ValueError as exc:
            return _error(400, str(exc))
        view.started(iid)
        return _json({"interaction_id": str(iid)})

    async def no_icon(request: web.Request) -> web.Response:
        return web.Response(status=204)

    app.router.add_get("/", index)
    app.router.add_get("/favicon.ico", no_icon)
    app.router.add_get("/static/{name}", asset)
    app.router.add_get("/local/state", state)
    app.router.add_post("/local/channels/{cid}/messages", post)
    app.router.add_post("/local/channels/{cid}/messages/{mid}/click", click)
    app.router.add_post("/local/channels/{cid}/messages/{mid}/thread", start_thread)
    app.router.add_post("/local/channels/{cid}/archive", archive)

    app.router.add_post("/local/interactions/{iid}/form", form)
