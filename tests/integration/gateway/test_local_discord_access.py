"""Only the operator may use the local Discord: adversarial requests against a real server.

Another local user can reach 127.0.0.1 (curl, a script) and a web page in the operator's browser
can send requests there; both are refused. The bot's own client (discord.py, which sends no
Origin) keeps working, and the page works with the key (see also the browser tests).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from vai.gateway.local_discord import LocalDiscord
from vai.gateway.local_mode import start_local_discord
from vai.protocol.specs import GatewaySpec

pytestmark = pytest.mark.timeout(60)
TOKEN = "test-token"
EVIL = "http://evil.example"


async def _status(http: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> int:
    async with http.request(method, url, allow_redirects=False, **kwargs) as resp:
        await resp.read()
        return resp.status


def test_without_the_key_nothing_is_served_and_nothing_is_posted() -> None:
    async def scenario() -> None:
        async with LocalDiscord(token=TOKEN) as ld, aiohttp.ClientSession() as curl:
            cid = ld.add_channel("general")
            ld.post_user_message(cid, "a secret prompt")
            post = f"{ld.base_url}/local/channels/{cid}/messages"
            async with curl.get(ld.base_url + "/") as resp:
                assert resp.status == 401
                assert "vai run" in await resp.text()
            assert await _status(curl, "GET", ld.base_url + "/local/state") == 401
            assert await _status(curl, "GET", ld.base_url + "/?key=" + "x" * 32) == 403
            wrong = {"X-Local-Key": "y" * 32, "Content-Type": "application/json"}
            assert await _status(curl, "GET", ld.base_url + "/local/state", headers=wrong) == 401
            for body in (b'{"content": "!bash id > f"}', b"!bash id"):
                headers = {"Content-Type": "application/json"}
                assert await _status(curl, "POST", post, data=body, headers=headers) == 401
            click = f"{post}/{ld.messages(cid)[0]['id']}/click"
            assert await _status(curl, "POST", click, json={"custom_id": "vai:c:x:0"}) == 401
            # The bot's API needs the bot token, whatever the page's key.
            keyed = {"X-Local-Key": ld.page_key}
            api = f"{ld.api_url}/channels/{cid}/messages"
            assert await _status(curl, "GET", api, headers=keyed) == 401
            assert await _status(curl, "POST", api, headers=keyed, json={"content": "x"}) == 401
            assert [m["content"] for m in ld.messages(cid)] == ["a secret prompt"]

    asyncio.run(scenario())


def test_the_key_sets_a_strict_cookie_and_the_page_works_with_it() -> None:
    async def scenario() -> None:
        jar = aiohttp.CookieJar(unsafe=True)  # unsafe: accept cookies from an IP address
        async with LocalDiscord(token=TOKEN) as ld, aiohttp.ClientSession(cookie_jar=jar) as web:
            cid = ld.add_channel("general")
            assert ld.page_url == f"{ld.base_url}/?key={ld.page_key}"
            async with web.get(ld.page_url, allow_redirects=False) as resp:
                assert resp.status == 303 and resp.headers["Location"] == "/"
                cookie = resp.headers["Set-Cookie"]
            assert ld.page_key in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
            async with web.get(ld.base_url + "/") as resp:
                assert resp.status == 200 and "<form" in await resp.text()
                policy = resp.headers["Content-Security-Policy"]
            assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
            own = {"Origin": ld.base_url}
            post = f"{ld.base_url}/local/channels/{cid}/messages"
            async with web.post(post, json={"content": "hello"}, headers=own) as resp:
                assert resp.status == 200
            async with web.get(ld.base_url + "/local/state") as resp:
                state = await resp.json()
            assert state["channels"][0]["messages"][0]["content"] == "hello"
            # The same cookie sent by a page of another site is refused (as is its Origin).
            foreign = {"Origin": EVIL}
            assert await _status(web, "POST", post, json={"content": "x"}, headers=foreign) == 403
            assert await _status(web, "GET", ld.base_url + "/local/state", headers=foreign) == 403
            assert await _status(web, "GET", ld.base_url + "/", headers={"Origin": "null"}) == 403
            assert [m["content"] for m in ld.messages(cid)] == ["hello"]

    asyncio.run(scenario())


def test_a_long_poll_answers_at_the_next_change() -> None:
    async def scenario() -> None:
        async with LocalDiscord(token=TOKEN) as ld, aiohttp.ClientSession() as web:
            cid = ld.add_channel("general")
            keyed = {"X-Local-Key": ld.page_key}
            async with web.get(ld.base_url + "/local/state", headers=keyed) as resp:
                version = (await resp.json())["version"]
            url = f"{ld.base_url}/local/state?after={version}"

            async def poll() -> dict[str, Any]:
                async with web.get(url, headers=keyed) as resp:
                    return dict(await resp.json())

            waiting = asyncio.create_task(poll())
            done, _ = await asyncio.wait({waiting}, timeout=0.3)
            assert not done, "nothing changed: the poll must still be waiting"
            ld.post_user_message(cid, "news")
            async with asyncio.timeout(5):
                state = await waiting
            assert state["version"] != version
            assert state["channels"][0]["messages"][-1]["content"] == "news"

    asyncio.run(scenario())


def test_cross_site_websockets_and_writes_are_refused_but_the_bot_connects() -> None:
    async def scenario() -> None:
        async with LocalDiscord(token=TOKEN) as ld, aiohttp.ClientSession() as http:
            cid = ld.add_channel("general")
            url = ld.gateway_url + "?v=10&encoding=json"
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(url, origin=EVIL)
            assert refused.value.status == 403
            async with http.ws_connect(url) as ws:  # discord.py sends no Origin
                assert (await ws.receive_json())["op"] == 10
                await ws.send_json({"op": 2, "d": {"token": TOKEN, "intents": 1 << 15 | 513}})
                ready = await ws.receive_json()
                assert ready["t"] == "READY"
            bot = {"Authorization": f"Bot {TOKEN}"}
            api = f"{ld.api_url}/channels/{cid}/messages"
            headers = bot | {"Origin": EVIL}
            assert await _status(http, "POST", api, json={"content": "x"}, headers=headers) == 403
            assert await _status(http, "POST", api, json={"content": "ok"}, headers=bot) == 200
            assert [m["content"] for m in ld.messages(cid)] == ["ok"]

    asyncio.run(scenario())


def test_attachment_links_are_signed() -> None:
    async def scenario() -> None:
        async with LocalDiscord(token=TOKEN) as ld, aiohttp.ClientSession() as http:
            cid = ld.add_channel("general")
            msg = ld.post_user_message(cid, "", attachments=[("notes.txt", b"private")])
            url = msg["attachments"][0]["url"]
            async with http.get(url) as resp:
                assert resp.status == 200 and await resp.read() == b"private"
            bare = url.split("?")[0]
            assert await _status(http, "GET", bare) == 404
            assert await _status(http, "GET", bare + "?hm=" + "0" * 32) == 404

    asyncio.run(scenario())


def test_the_embedded_server_has_a_new_bot_token_and_key_each_run(tmp_path: Path) -> None:
    async def scenario() -> None:
        spec = GatewaySpec(home=str(tmp_path), api_url="", gateway_url="", local_discord=True)
        first, first_token = await start_local_discord(spec)
        second, second_token = await start_local_discord(spec)
        try:
            assert first_token != second_token and len(first_token) >= 32
            assert first.page_key != second.page_key and len(first.page_key) >= 24
            async with aiohttp.ClientSession() as http:
                api = f"{first.api_url}/users/@me"
                for token, status in (("local-bridge-token", 401), (first_token, 200)):
                    headers = {"Authorization": f"Bot {token}"}
                    assert await _status(http, "GET", api, headers=headers) == status
        finally:
            await first.stop()
            await second.stop()

    asyncio.run(scenario())
