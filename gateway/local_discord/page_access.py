"""Only the operator may use the chat page: a per-run key, an HttpOnly cookie, Origin checks.

Every local user can reach 127.0.0.1, and the chat page turns text into prompts for Claude (which
runs commands as the bridge's user), so it must not be open to whoever connects. The server makes
a random key per run; the printed address carries it (``/?key=...``). Opening it sets an HttpOnly,
SameSite=Strict cookie and redirects to the clean address; the page and ``/local/*`` then require
that cookie (or the key itself, for scripts). Web pages of other sites are refused by ``Origin``:
a browser always sends one on state-changing requests and websocket upgrades, while the bot's
client (discord.py) sends none. :func:`~.chat_page.host_guard` separately stops DNS rebinding.

Attachment URLs carry an HMAC of their path made with the key (like Discord's signed CDN links),
so the bot can download them without credentials but nobody can enumerate them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
KEY_PARAM = "key"
KEY_HEADER = "X-Local-Key"
SIGNATURE_PARAM = "hm"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
NO_KEY_TEXT = (
    "401: this local Discord belongs to the user running `vai run`. Open the address it printed"
    " (http://127.0.0.1:PORT/?key=...; also in the supervisor's log), or run it yourself."
)
WRONG_KEY_TEXT = (
    "403: wrong key. The key changes every time `vai run` starts: open the address it printed"
    " this time."
)
FOREIGN_ORIGIN_TEXT = "403: refused, this request comes from another web site (Origin {origin})."


def new_key() -> str:
    return secrets.token_urlsafe(24)


def _text(status: int, text: str) -> web.Response:
    headers = {"Cache-Control": "no-store"}
    return web.Response(status=status, text=text + "\n", headers=headers)


def is_page_path(path: str) -> bool:
    """The operator's routes: the page itself and its API."""
    return path == "/" or path.startswith("/local/")


class PageAccess:
    """The key check, the cookie, the Origin check and attachment signatures of one server."""

    def __init__(self, key: str) -> None:
        if len(key) < 16:
            raise ValueError("the chat page key must be at least 16 characters")
        self.key = key

    @staticmethod
    def cookie_name(request: web.Request) -> str:
        # Browsers share cookies between ports of one host: one name per port.
        return f"vai_local_{request.url.port or 80}"

    def _matches(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(candidate.encode(), self.key.encode())

    def holds_key(self, request: web.Request) -> bool:
        """The cookie the page got, the ``X-Local-Key`` header, or ``?key=``."""
        return (
            self._matches(request.cookies.get(self.cookie_name(request)))
            or self._matches(request.headers.get(KEY_HEADER))
            or self._matches(request.query.get(KEY_PARAM))
        )

    @staticmethod
    def foreign_origin(request: web.Request) -> str | None:
        """The ``Origin`` of another site, if the request carries one (``null`` counts)."""
        origin = request.headers.get("Origin")
        if origin is None or origin == f"{request.scheme}://{request.host}":
            return None
        return origin

    def sign(self, path: str) -> str:
        digest = hmac.new(self.key.encode(), path.encode(), hashlib.sha256).hexdigest()
        return digest[:32]

    def signed(self, path: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(path).encode(), signature.encode())

    def _enter(self, request: web.Request) -> web.Response:
        """``/?key=...``: right key -> cookie and a redirect to the clean address."""
        if not self._matches(request.query.get(KEY_PARAM)):
            return _text(403, WRONG_KEY_TEXT)
        headers = {"Location": "/", "Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
        response = web.Response(status=303, headers=headers)
        response.set_cookie(
            self.cookie_name(request), self.key, path="/", httponly=True, samesite="Strict"
        )
        return response

    def middleware(self) -> Middleware:
        @web.middleware
        async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
            origin = self.foreign_origin(request)
            page = is_page_path(request.path)
            cross_site = request.method not in SAFE_METHODS or page
            if origin is not None and (cross_site or request.path == "/gateway"):
                return _text(403, FOREIGN_ORIGIN_TEXT.format(origin=origin[:100]))
            if page:
                if request.path == "/" and KEY_PARAM in request.query:
                    return self._enter(request)
                if not self.holds_key(request):
                    return _text(401, NO_KEY_TEXT)
            return await handler(request)

        return guard
