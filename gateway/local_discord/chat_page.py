"""The chat page of the local Discord server: a human talks to the bot without a Discord account.

``GET /`` serves a self-contained HTML page; it polls ``GET /local/state`` and posts through
``POST /local/channels/{id}/messages`` (and clicks buttons through ``.../click``), which go through
the same controls the tests use, so the bot sees ordinary Discord events. Ids are strings because
snowflakes do not fit in a JavaScript number.

A message posted here becomes a prompt for Claude, so the page must not be usable by other web
sites: :func:`host_guard` rejects foreign ``Host`` headers (DNS rebinding) and the POSTs require a
JSON body and a same-origin ``Origin`` (cross-site forms and ``text/plain`` fetches cannot).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from importlib import resources
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from .store import JSON, ApiError, LocalUser

if TYPE_CHECKING:
    from .server import LocalDiscord

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
WILDCARD = frozenset({"", "0.0.0.0", "::"})
TYPING_SHOWN_S = 10.0
MESSAGES_SHOWN = 200


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"}
    )


def _buttons(components: list[JSON]) -> list[JSON]:
    out: list[JSON] = []
    for comp in components:
        if comp.get("type") == 2 and comp.get("custom_id"):
            out.append({k: comp.get(k) for k in ("custom_id", "label", "disabled", "style")})
        out += _buttons(comp.get("components") or [])
    return out


def _summary(msg: JSON) -> JSON:
    author = msg["author"]
    return {
        "id": msg["id"],
        "author": author.get("global_name") or author["username"],
        "bot": bool(author.get("bot")),
        "content": msg["content"],
        "timestamp": msg["timestamp"],
        "attachments": [{"filename": a["filename"], "url": a["url"]} for a in msg["attachments"]],
        "embeds": [{k: e.get(k) for k in ("title", "description")} for e in msg["embeds"]],
        "buttons": _buttons(msg.get("components") or []),
        "reactions": [{"emoji": r["emoji"]["name"], "count": r["count"]} for r in msg["reactions"]],
    }


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


def _same_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    same = origin is None or origin == f"{request.scheme}://{request.host}"
    return same and request.content_type == "application/json"


def register(app: web.Application, server: LocalDiscord) -> None:
    """Adds ``/`` and ``/local/*`` to the server's application."""
    page = resources.files(__package__).joinpath("chat_page.html").read_bytes()
    users: dict[str, LocalUser] = {}

    def author(body: JSON) -> LocalUser:
        name = str(body.get("username") or "").strip()[:32]
        if not name:
            return server.default_user
        if name not in users:
            users[name] = server.make_user(name)
        return users[name]

    async def index(request: web.Request) -> web.Response:
        return web.Response(body=page, headers={"Content-Type": "text/html; charset=utf-8"})

    async def state(request: web.Request) -> web.Response:
        now = time.time()
        typing = {e["channel_id"] for e in server.typing_events if now - e["time"] < TYPING_SHOWN_S}
        channels = [
            {
                "id": str(cid),
                "name": name,
                "typing": str(cid) in typing,
                "messages": [_summary(m) for m in server.messages(cid)[-MESSAGES_SHOWN:]],
            }
            for cid, name in server.channels().items()
        ]
        bot, user = server.store.bot.to_json(), server.default_user.to_json()
        guild = {"id": str(server.guild_id), "name": server.store.guild_name}
        return _json({"guild": guild, "bot": bot, "user": user, "channels": channels})

    async def post(request: web.Request) -> web.Response:
        if not _same_origin(request):
            return _json({"message": "403: JSON from this page only", "code": 0}, 403)
        try:
            body = await request.json()
            msg = server.post_user_message(
                int(request.match_info["cid"]), str(body.get("content", "")), author=author(body)
            )
        except ApiError as exc:
            return _json(exc.body(), exc.status)
        except (ValueError, KeyError, AttributeError):
            return _json({"message": "bad request", "code": 0}, 400)
        return _json(_summary(msg))

    async def click(request: web.Request) -> web.Response:
        if not _same_origin(request):
            return _json({"message": "403: JSON from this page only", "code": 0}, 403)
        try:
            body = await request.json()
            iid = server.click_button(
                int(request.match_info["cid"]),
                int(request.match_info["mid"]),
                str(body["custom_id"]),
                user=author(body),
            )
        except ApiError as exc:
            return _json(exc.body(), exc.status)
        except (ValueError, KeyError, AttributeError) as exc:
            return _json({"message": str(exc), "code": 0}, 400)
        return _json({"interaction_id": str(iid)})

    app.router.add_get("/", index)
    app.router.add_get("/local/state", state)
    app.router.add_post("/local/channels/{cid}/messages", post)
    app.router.add_post("/local/channels/{cid}/messages/{mid}/click", click)
