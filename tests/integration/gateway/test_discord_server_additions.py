"""What the gateway's tests needed from the local Discord server: lost answers, hidden channels."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from vai.gateway.local_discord import LocalDiscord

pytestmark = pytest.mark.timeout(30)
TOKEN = "test-token"
AUTH = {"Authorization": f"Bot {TOKEN}"}


def test_a_dropped_response_still_took_effect() -> None:
    async def scenario() -> None:
        async with LocalDiscord(token=TOKEN) as ld, aiohttp.ClientSession(headers=AUTH) as http:
            chan = ld.add_channel("general")
            url = f"{ld.api_url}/channels/{chan}/messages"
            ld.inject_drop("POST", r"/messages$")
            with pytest.raises(aiohttp.ClientError):
                await http.post(url, json={"content": "one", "nonce": "n1", "enforce_nonce": True})
            assert [m["content"] for m in ld.messages(chan)] == ["one"]
            # The retry with the same nonce is answered with the same message.
            async with http.post(
                url, json={"content": "one", "nonce": "n1", "enforce_nonce": True}
            ) as again:
                assert again.status == 200
                assert (await again.json())["id"] == ld.messages(chan)[0]["id"]
            assert len(ld.messages(chan)) == 1
            assert [r.status for r in ld.request_log] == [0, 200]

    asyncio.run(scenario())


def test_a_hidden_channel_is_missing_access_for_the_bot() -> None:
    async def scenario() -> None:
        async with LocalDiscord(token=TOKEN) as ld, aiohttp.ClientSession(headers=AUTH) as http:
            seen = ld.add_channel("seen")
            secret = ld.add_channel("secret")
            ld.hide_channel(secret)
            base = f"{ld.api_url}/channels/{secret}"
            for method, url in (
                ("GET", base),
                ("GET", base + "/messages"),
                ("POST", base + "/typing"),
            ):
                async with http.request(method, url) as response:
                    assert response.status == 403
                    assert (await response.json())["code"] == 50001
            async with http.post(base + "/messages", json={"content": "x"}) as response:
                assert response.status == 403
            async with http.get(f"{ld.api_url}/guilds/{ld.guild_id}/channels") as response:
                assert [int(c["id"]) for c in await response.json()] == [seen]
            assert ld.invalid_request_count == 4  # 403s count, as on Discord
            # Users can still post there; the bot just does not see it.
            ld.post_user_message(secret, "psst")
            assert len(ld.messages(secret)) == 1

    asyncio.run(scenario())
