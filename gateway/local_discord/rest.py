"""REST API of the local Discord server (``/api/v10``), as much of it as a bot bridge uses.

Handlers are thin: parse, call :class:`Store` / :class:`Interactions`, answer JSON. The middleware
does what Discord does around every route: the ``Authorization: Bot <token>`` check, rate limits
and their headers, Discord-shaped errors, and it records each request so tests can assert on
retries and invalid-request counts. Every JSON answer carries ``Content-Type: application/json``
with no charset, because discord.py only parses that exact value.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple
from urllib.parse import unquote

from aiohttp import BodyPartReader, web

from .interactions import Interactions
from .ratelimit import RateLimiter, Verdict
from .store import JSON, MAX_FILE_BYTES, MAX_REQUEST_BYTES, ApiError, Store, UploadedFile
from .threads import create_thread, delete_channel, is_thread, update_channel

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_NO_AUTH = ("/interactions/", "/webhooks/")
REQUEST_LOG_SIZE = 100_000  # bounded: the server may run for days embedded in `vai run`


class _Drop(NamedTuple):
    method: str
    pattern: re.Pattern[str]


class RequestRecord(NamedTuple):
    """One request as the server saw it (``time`` is ``time.time()`` at arrival; ``body``
    the JSON body, or a multipart request's ``payload_json``, when the handler read one)."""

    method: str
    path: str
    status: int
    time: float
    body: Any = None


# Where read_body leaves the body for the request log (RequestKey: aiohttp 3.12 and later).
_BODY: Any = web.RequestKey("parsed_body", object) if hasattr(web, "RequestKey") else "parsed_body"


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    head = {"Content-Type": "application/json"} | (headers or {})
    return web.Response(body=json.dumps(data).encode(), status=status, headers=head)


def _id(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError:
        raise ApiError(400, 50035, "Invalid Form Body", {name: {"_errors": []}}) from None


async def read_body(request: web.Request) -> tuple[Any, list[UploadedFile]]:
    """A JSON body, or multipart ``payload_json`` + ``files[n]`` (read fully, then checked)."""
    if not request.content_type.startswith("multipart/"):
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            raise ApiError(400, 50109, "The request body contains invalid JSON.") from None
        request[_BODY] = body
        return body, []
    payload: Any = {}
    files: list[UploadedFile] = []
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        data = bytes(await part.read(decode=False))
        name = part.name or ""
        if name == "payload_json":
            payload = request[_BODY] = json.loads(data)
        elif part.filename is not None:
            index = name[6:-1] if name.startswith("files[") else str(len(files))
            ctype = part.headers.get("Content-Type")
            idx = int(index) if index.isdigit() else len(files)
            files.append(UploadedFile(idx, part.filename, data, ctype))
    total = sum(len(f.data) for f in files)
    if total > MAX_REQUEST_BYTES or any(len(f.data) > MAX_FILE_BYTES for f in files):
        raise ApiError(413, 40005, "Request entity too large")
    return payload, files


class RestApi:
    """Routes and middleware; ``request_log`` and ``invalid_request_count`` are for tests."""

    def __init__(
        self,
        store: Store,
        interactions: Interactions,
        limiter: RateLimiter,
        *,
        token: str | None,
        gateway_url: Callable[[], str],
        message_content_enabled: bool,
        prefix: str = "/api/v10",
    ) -> None:
        self.store, self.interactions, self.limiter = store, interactions, limiter
        self.token, self.gateway_url, self.prefix = token, gateway_url, prefix
        self.message_content_enabled = message_content_enabled
        self.request_log: deque[RequestRecord] = deque(maxlen=REQUEST_LOG_SIZE)
        self.invalid_request_count = 0
        self.drops: list[_Drop] = []

    def inject_drop(self, method: str, path_regex: str, count: int = 1) -> None:
        """The next ``count`` matching requests are carried out, then the connection is cut
        before the response: the client cannot know whether its request took effect."""
        self.drops += [_Drop(method.upper(), re.compile(path_regex))] * count

    def _take_drop(self, method: str, path: str) -> bool:
        for index, drop in enumerate(self.drops):
            if drop.method in (method, "*") and drop.pattern.search(path):
                del self.drops[index]
                return True
        return False

    # middleware ----------------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        arrived = time.time()
        status = 500
        try:
            response = await self._process(request, handler)
            status = response.status
            if self._take_drop(request.method, request.path) and request.transport is not None:
                status = 0  # the client never sees an answer
                request.transport.abort()
            return response
        except web.HTTPException as exc:
            status = exc.status
            if not request.path.startswith(self.prefix):
                raise
            body = {"message": f"{exc.status}: {exc.reason}", "code": 0}
            return json_response(body, exc.status)
        finally:
            if status in (401, 403, 429):
                self.invalid_request_count += 1
            record = RequestRecord(
                request.method, request.path, status, arrived, request.get(_BODY)
            )
            self.request_log.append(record)
            self.store.on_change()

    async def _process(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(self.prefix + "/"):
            return await self._call(request, handler)
        rel = request.path[len(self.prefix) :]
        bot_request = not rel.startswith(_NO_AUTH) and rel != "/gateway"
        if bot_request and not self._authorized(request):
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        forced = self.limiter.injected(request.method, request.path)
        if forced is not None:
            return json_response(forced.body(), 429, forced.headers)
        verdict = self._check_limits(request, counts_global=bot_request)
        if not verdict.allowed:
            return json_response(verdict.body(), 429, verdict.headers)
        response = await self._call(request, handler)
        response.headers.update(verdict.headers)
        return response

    @staticmethod
    async def _call(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ApiError as exc:
            return json_response(exc.body(), exc.status)

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if self.token is None:
            return header.startswith("Bot ") and len(header) > 4
        return header == f"Bot {self.token}"

    def _check_limits(self, request: web.Request, *, counts_global: bool) -> Verdict:
        info = request.match_info
        resource = info.route.resource
        canonical = resource.canonical if resource is not None else request.path
        template = canonical.removeprefix(self.prefix)
        major = "/".join(
            info.get(k, "") for k in ("channel_id", "guild_id", "app_id", "interaction_id", "token")
        )
        return self.limiter.check(request.method, template, major, counts_global=counts_global)

    # routes --------------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        p, ch, msg = self.prefix, self.prefix + "/channels/{channel_id}", "/messages/{message_id}"
        hook = p + "/webhooks/{app_id}/{token}"
        out = [
            web.get(p + "/users/@me", self.get_me),
            web.get(p + "/users/{user_id}", self.get_user),
            web.get(p + "/oauth2/applications/@me", self.get_application),
            web.get(p + "/applications/@me", self.get_application),
            web.get(p + "/gateway", self.get_gateway),
            web.get(p + "/gateway/bot", self.get_gateway),
            web.get(p + "/guilds/{guild_id}", self.get_guild),
            web.get(p + "/guilds/{guild_id}/channels", self.get_guild_channels),
            web.post(p + "/guilds/{guild_id}/channels", self.create_channel),
            web.get(p + "/guilds/{guild_id}/roles", self.get_roles),
            web.get(p + "/guilds/{guild_id}/members/{user_id}", self.get_member),
            web.get(ch, self.get_channel),
            web.patch(ch, self.patch_channel),
            web.delete(ch, self.delete_channel),
            web.post(ch + "/threads", self.start_thread),
            web.post(ch + msg + "/threads", self.start_thread),
            web.put(ch + "/thread-members/@me", self.join_thread),
            web.delete(ch + "/thread-members/@me", self.join_thread),
            web.get(ch + "/messages", self.get_messages),
            web.post(ch + "/messages", self.post_message),
            web.get(ch + msg, self.get_message),
            web.patch(ch + msg, self.edit_message),
            web.delete(ch + msg, self.delete_message),
            web.put(ch + msg + "/reactions/{emoji}/@me", self.add_reaction),
            web.delete(ch + msg + "/reactions/{emoji}/@me", self.remove_reaction),
            web.post(ch + "/typing", self.typing),
            web.post(p + "/interactions/{interaction_id}/{token}/callback", self.callback),
            web.post(hook, self.followup),
            web.get(hook + msg, self.get_hook_message),
            web.patch(hook + msg, self.edit_hook_message),
            web.delete(hook + msg, self.delete_hook_message),
            web.get(r"/attachments/{channel_id}/{attachment_id}/{name:[\s\S]*}", self.attachment),
        ]
        for scope in ("/commands", "/guilds/{guild_id}/commands"):
            path = p + "/applications/{app_id}" + scope
            out += [web.get(path, self.get_commands), web.put(path, self.put_commands)]
            out.append(web.post(path, self.post_command))
        return out

    def _channel_id(self, request: web.Request) -> int:
        """A channel the bot may use: a hidden one answers like Discord, 403 Missing Access."""
        channel_id = _id(request, "channel_id")
        if channel_id in self.store.hidden:
            raise ApiError(403, 50001, "Missing Access")
        return channel_id

    def _guild(self, request: web.Request) -> None:
        if _id(request, "guild_id") != self.store.guild_id:
            raise ApiError(404, 10004, "Unknown Guild")

    def _visible(self, msg: JSON) -> JSON:
        """REST reads honour the portal's Message Content switch like the gateway does."""
        bot_id = str(self.store.bot.id)
        if self.message_content_enabled or msg["author"]["id"] == bot_id:
            return msg
        if any(m.get("id") == bot_id for m in msg.get("mentions", [])):
            return msg
        return msg | {"content": "", "embeds": [], "attachments": [], "components": []}

    async def get_me(self, request: web.Request) -> web.Response:
        me = self.store.bot.to_json() | {"verified": True, "mfa_enabled": False, "flags": 0}
        return json_response(me | {"email": None, "locale": "en-US"})

    async def get_user(self, request: web.Request) -> web.Response:
        user = self.store.users.get(_id(request, "user_id"))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return json_response(user.to_json())

    async def get_application(self, request: web.Request) -> web.Response:
        st = self.store
        app: JSON = {"id": str(st.application_id), "name": st.bot.username, "description": ""}
        app |= {"icon": None, "bot_public": False, "bot_require_code_grant": False}
        app |= {"owner": st.default_user.to_json(), "verify_key": "0" * 64, "team": None}
        app |= {"flags": (1 << 18) if self.message_content_enabled else 0, "bot": st.bot.to_json()}
        return json_response(app)

    async def get_gateway(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return json_response({"url": self.gateway_url(), "shards": 1, "session_start_limit": limit})

    async def get_guild(self, request: web.Request) -> web.Response:
        self._guild(request)
        guild = self.store.guild_json()
        for key in ("channels", "members", "threads", "presences", "voice_states"):
            guild.pop(key)
        return json_response(guild)

    async def get_guild_channels(self, request: web.Request) -> web.Response:
        self._guild(request)
        visible = [
            c
            for cid, c in self.store.channels.items()
            if cid not in self.store.hidden and not is_thread(c)
        ]
        return json_response(visible)

    async def create_channel(self, request: web.Request) -> web.Response:
        self._guild(request)
        body, _ = await read_body(request)
        if not isinstance(body, dict) or not str(body.get("name") or "").strip():
            raise ApiError(400, 50035, "Invalid Form Body", {"name": {"_errors": []}})
        channel_id = self.store.add_channel(str(body["name"]), body.get("topic"))
        return json_response(self.store.channels[channel_id], 201)

    async def patch_channel(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        return json_response(update_channel(self.store, self._channel_id(request), body))

    async def delete_channel(self, request: web.Request) -> web.Response:
        return json_response(delete_channel(self.store, self._channel_id(request)))

    async def start_thread(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        message_id = _id(request, "message_id") if "message_id" in request.match_info else None
        thread = create_thread(
            self.store, self._channel_id(request), body, self.store.bot, message_id
        )
        return json_response(thread, 201)

    async def join_thread(self, request: web.Request) -> web.Response:
        if not is_thread(self.store.channel(self._channel_id(request))):
            raise ApiError(400, 50024, "Cannot execute action on this channel type")
        return web.Response(status=204)

    async def get_roles(self, request: web.Request) -> web.Response:
        self._guild(request)
        return json_response(list(self.store.roles.values()))

    async def get_member(self, request: web.Request) -> web.Response:
        self._guild(request)
        user = self.store.users.get(_id(request, "user_id"))
        if user is None:
            raise ApiError(404, 10007, "Unknown Member")
        return json_response(self.store.member_json(user))

    async def get_channel(self, request: web.Request) -> web.Response:
        return json_response(self.store.channel(self._channel_id(request)))

    async def get_messages(self, request: web.Request) -> web.Response:
        query = request.query

        def opt(name: str) -> int | None:
            return int(query[name]) if query.get(name) else None

        try:
            limit = max(1, min(100, int(query.get("limit", "50"))))
            anchors = opt("before"), opt("after"), opt("around")
        except ValueError:
            raise ApiError(400, 50035, "Invalid Form Body") from None
        page = self.store.page(self._channel_id(request), limit, *anchors)
        return json_response([self._visible(m) for m in page])

    async def post_message(self, request: web.Request) -> web.Response:
        channel_id = self._channel_id(request)
        self.store.channel(channel_id)
        body, files = await read_body(request)
        msg = self.store.create_message(channel_id, self.store.bot, body, files)
        return json_response(msg)

    async def get_message(self, request: web.Request) -> web.Response:
        msg = self.store.message(self._channel_id(request), _id(request, "message_id"))
        return json_response(self._visible(msg))

    async def edit_message(self, request: web.Request) -> web.Response:
        msg = self.store.message(_id(request, "channel_id"), _id(request, "message_id"))
        if msg["author"]["id"] != str(self.store.bot.id):
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        body, files = await read_body(request)
        return json_response(self.store.edit_message(msg, body, files))

    async def delete_message(self, request: web.Request) -> web.Response:
        msg = self.store.message(_id(request, "channel_id"), _id(request, "message_id"))
        self.store.delete_message(msg)
        return web.Response(status=204)

    async def _react(self, request: web.Request, *, add: bool) -> web.Response:
        msg = self.store.message(self._channel_id(request), _id(request, "message_id"))
        emoji = unquote(request.match_info["emoji"])
        self.store.react(msg, emoji, self.store.bot, add=add)
        return web.Response(status=204)

    async def add_reaction(self, request: web.Request) -> web.Response:
        return await self._react(request, add=True)

    async def remove_reaction(self, request: web.Request) -> web.Response:
        return await self._react(request, add=False)

    async def typing(self, request: web.Request) -> web.Response:
        self.store.start_typing(self._channel_id(request), self.store.bot)
        return web.Response(status=204)

    def _command_scope(self, request: web.Request) -> int | None:
        if "guild_id" in request.match_info:
            self._guild(request)
            return self.store.guild_id
        return None

    async def get_commands(self, request: web.Request) -> web.Response:
        return json_response(self.interactions.commands.get(self._command_scope(request), []))

    async def put_commands(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        if not isinstance(body, list):
            raise ApiError(400, 50035, "Invalid Form Body")
        return json_response(self.interactions.set_commands(self._command_scope(request), body))

    async def post_command(self, request: web.Request) -> web.Response:
        body, _ = await read_body(request)
        return json_response(self.interactions.upsert_command(self._command_scope(request), body))

    async def callback(self, request: web.Request) -> web.Response:
        body, files = await read_body(request)
        token = request.match_info["token"]
        result = self.interactions.callback(_id(request, "interaction_id"), token, body, files)
        if request.query.get("with_response", "").lower() in ("1", "true"):
            return json_response(result)
        return web.Response(status=204)

    async def followup(self, request: web.Request) -> web.Response:
        body, files = await read_body(request)
        inter = self.interactions.by_token(request.match_info["token"])
        msg = self.interactions.followup(inter, body, files)
        if request.query.get("wait", "").lower() in ("1", "true"):
            return json_response(msg)
        return web.Response(status=204)

    async def get_hook_message(self, request: web.Request) -> web.Response:
        info = request.match_info
        return json_response(self.interactions.message(info["token"], info["message_id"])[1])

    async def edit_hook_message(self, request: web.Request) -> web.Response:
        body, files = await read_body(request)
        info = request.match_info
        return json_response(self.interactions.edit(info["token"], info["message_id"], body, files))

    async def delete_hook_message(self, request: web.Request) -> web.Response:
        self.interactions.delete(request.match_info["token"], request.match_info["message_id"])
        return web.Response(status=204)

    async def attachment(self, request: web.Request) -> web.Response:
        key = (_id(request, "channel_id"), _id(request, "attachment_id"))
        signature = self.store.sign_path(f"{key[0]}/{key[1]}")
        given = request.query.get("hm", "")
        found = self.store.files.get(key)
        if found is None or not hmac.compare_digest(signature.encode(), given.encode()):
            return json_response({"message": "404: Not Found", "code": 0}, 404)
        _, data, ctype = found
        return web.Response(body=data, headers={"Content-Type": ctype})
