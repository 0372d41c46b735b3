"""The local Discord server against the real, unmodified discord.py client.

Each test starts a LocalDiscord on 127.0.0.1 (port 0), points discord.py at it through
``Route.BASE`` and ``DiscordWebSocket.DEFAULT_GATEWAY`` (restored by monkeypatch), and waits for
events with timeouts: nothing sleeps "long enough".
"""

from __future__ import annotations

import asyncio
import io
import json
import urllib.request
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import aiohttp
import discord
import discord.gateway
import discord.http
import pytest
import yarl
from discord import app_commands

from vai.gateway.local_discord import LocalDiscord, LocalDiscordThread

T = TypeVar("T")
TOKEN = "test-token"
pytestmark = pytest.mark.timeout(60)


class Bot(discord.Client):
    """A client that records what it receives and lets a test wait for it without sleeping."""

    def __init__(self, *, message_content: bool = True) -> None:
        intents = discord.Intents.default()
        intents.message_content = message_content
        super().__init__(intents=intents, guild_ready_timeout=0.05)
        self.received: list[discord.Message] = []
        self.interactions: list[discord.Interaction] = []
        self.tree = app_commands.CommandTree(self)
        self._changed = asyncio.Event()
        self.ready_event = asyncio.Event()

    async def on_ready(self) -> None:
        self.ready_event.set()

    def changed(self) -> None:
        event, self._changed = self._changed, asyncio.Event()
        event.set()

    async def on_message(self, message: discord.Message) -> None:
        self.received.append(message)
        self.changed()

    async def on_resumed(self) -> None:
        self.changed()

    async def on_guild_channel_create(self, channel: discord.abc.GuildChannel) -> None:
        self.changed()

    async def until(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        async with asyncio.timeout(timeout):
            while not (result := predicate()):
                await self._changed.wait()
            return result


@asynccontextmanager
async def server(mp: pytest.MonkeyPatch, **kwargs: Any) -> AsyncIterator[LocalDiscord]:
    async with LocalDiscord(**kwargs) as ld:
        mp.setattr(discord.http.Route, "BASE", ld.api_url)
        mp.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(ld.gateway_url))
        yield ld


@asynccontextmanager
async def logged_in(bot: Bot, token: str = TOKEN) -> AsyncIterator[Bot]:
    task = asyncio.create_task(bot.start(token))
    ready = asyncio.create_task(bot.ready_event.wait())
    try:
        await asyncio.wait({task, ready}, timeout=10, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # raises the login/connect failure
        assert bot.is_ready(), "discord.py did not become ready"
        yield bot
    finally:
        ready.cancel()
        await bot.close()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)


def text_channel(bot: Bot, channel_id: int) -> discord.TextChannel:
    channel = bot.get_channel(channel_id)
    assert isinstance(channel, discord.TextChannel)
    return channel


def test_login_ready_and_user_message(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with server(monkeypatch) as ld:
            cid = ld.add_channel("general")
            async with logged_in(Bot()) as bot:
                assert bot.user is not None and bot.user.id == ld.bot_user_id
                assert bot.application_id == ld.application_id
                guild = bot.get_guild(ld.guild_id)
                assert guild is not None and guild.me is not None
                text_channel(bot, cid)
                ld.post_user_message(cid, "hello bot", attachments=[("notes.txt", b"some notes")])
                msg = await bot.until(lambda: [m for m in bot.received if m.content == "hello bot"])
                assert isinstance(msg[0].author, discord.Member)
                assert msg[0].author.id == ld.default_user.id and not msg[0].author.bot
                assert isinstance(msg[0].channel, discord.TextChannel)
                assert msg[0].attachments[0].filename == "notes.txt"
                assert await msg[0].attachments[0].read() == b"some notes"
                later = ld.add_channel("created-later")
                await bot.until(lambda: bot.get_channel(later))
                role = ld.add_role("allowed")
                bob = {"id": 4242, "username": "bob", "roles": [role]}
                ld.post_user_message(later, "from bob", author=bob)
                ld.post_user_message(later, "hooked", author={"webhook_id": 77, "username": "ci"})
                await bot.until(lambda: len(bot.received) == 3)
                got = bot.received
                assert isinstance(got[1].author, discord.Member) and got[1].author.id == 4242
                assert [r.name for r in got[1].author.roles] == ["@everyone", "allowed"]
                assert got[2].webhook_id == 77 and not isinstance(got[2].author, discord.Member)
            assert ld.request_log[0].path == "/api/v10/users/@me"

    asyncio.run(scenario())


def test_send_text_file_and_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        # 5 messages per 5 s would make discord.py wait for the bucket: not what this tests.
        async with server(monkeypatch, rate_limits=False) as ld:
            cid = ld.add_channel("general")
            async with logged_in(Bot()) as bot:
                channel = text_channel(bot, cid)
                sent = await channel.send("hi there")
                echoed = await bot.until(lambda: [m for m in bot.received if m.id == sent.id])
                assert echoed[0].author == bot.user and echoed[0].author.bot
                with_file = await channel.send(file=discord.File(io.BytesIO(b"\x00data"), "a.bin"))
                assert await with_file.attachments[0].read() == b"\x00data"
                assert [m["content"] for m in ld.messages(cid)] == ["hi there", ""]
                with pytest.raises(discord.HTTPException) as too_long:
                    await channel.send("x" * 2001)
                assert too_long.value.status == 400 and too_long.value.code == 50035
                big = discord.File(io.BytesIO(b"x" * (10 * 2**20 + 1)), "big.bin")
                with pytest.raises(discord.HTTPException) as too_big:
                    await channel.send(file=big)
                assert too_big.value.status == 413 and too_big.value.code == 40005
                first = await channel.send("once", nonce="n-1")
                again = await channel.send("once", nonce="n-1")
                assert first.id == again.id
                assert len(ld.messages(cid)) == 3

    asyncio.run(scenario())


HOSTILE_NAMES = ["../../etc/passwd", "/abs/p.txt", "a\x00b", "new\nline", "..", "CON", "x" * 300]


def test_hostile_attachment_names_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with server(monkeypatch) as ld:
            cid = ld.add_channel("general")
            async with logged_in(Bot()) as bot:
                for name in HOSTILE_NAMES:
                    ld.post_user_message(cid, "file", attachments=[(name, name.encode())])
                await bot.until(lambda: len(bot.received) == len(HOSTILE_NAMES))
                for msg, name in zip(bot.received, HOSTILE_NAMES, strict=True):
                    assert msg.attachments[0].filename == name
                    assert await msg.attachments[0].read() == name.encode()

    asyncio.run(scenario())


def test_history_reactions_typing_edit_delete(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with server(monkeypatch) as ld:
            cid = ld.add_channel("general")
            posted = [ld.post_user_message(cid, f"m{i}") for i in range(5)]
            ld.add_channel("other")
            async with logged_in(Bot()) as bot:
                channel = text_channel(bot, cid)
                newest = [m.content async for m in channel.history(limit=3)]
                assert newest == ["m4", "m3", "m2"]
                after = discord.Object(int(posted[1]["id"]))
                later = [m.content async for m in channel.history(after=after, oldest_first=True)]
                assert later == ["m2", "m3", "m4"]
                target = await channel.fetch_message(int(posted[0]["id"]))
                await target.add_reaction("👍")
                assert ld.reactions(cid, target.id) == {"👍": [ld.bot_user_id]}
                await target.remove_reaction("👍", discord.Object(ld.bot_user_id))
                assert ld.reactions(cid, target.id) == {}
                reply = await target.reply("answer")
                assert reply.reference is not None and reply.reference.message_id == target.id
                assert ld.message(cid, reply.id)["type"] == 19
                await channel.typing()
                assert ld.typing_events[-1]["user_id"] == str(ld.bot_user_id)
                mine = await channel.send("draft")
                await mine.edit(content="final")
                assert ld.message(cid, mine.id)["content"] == "final"
                await mine.delete()
                assert [m["content"] for m in ld.messages(cid)][-1] == "answer"
                with pytest.raises(discord.NotFound):
                    await bot.fetch_channel(12345)

    asyncio.run(scenario())


def test_429_with_and_without_via(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with server(monkeypatch) as ld:
            cid = ld.add_channel("general")
            async with logged_in(Bot()) as bot:
                channel = text_channel(bot, cid)
                ld.inject_429("POST", r"/channels/\d+/messages$", count=1, retry_after=0.05)
                await channel.send("after a retry")
                statuses = [r.status for r in ld.request_log if r.path.endswith("/messages")]
                assert statuses == [429, 200]
                ld.inject_429("POST", r"/messages$", count=1, retry_after=0.05, via=False)
                with pytest.raises(discord.HTTPException) as exc:
                    await channel.send("never")
                assert exc.value.status == 429
                assert ld.invalid_request_count == 2
                assert [m["content"] for m in ld.messages(cid)] == ["after a retry"]

    asyncio.run(scenario())


def test_rate_limit_headers_and_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with server(monkeypatch) as ld:
            cid = ld.add_channel("general")
            url = f"{ld.api_url}/channels/{cid}/messages"
            headers = {"Authorization": f"Bot {TOKEN}"}
            async with aiohttp.ClientSession(headers=headers) as http:
                for i in range(5):
                    async with http.post(url, json={"content": str(i)}) as resp:
                        assert resp.status == 200
                        assert resp.headers["Content-Type"] == "application/json"
                        assert resp.headers["X-RateLimit-Remaining"] == str(4 - i)
                        assert resp.headers["X-RateLimit-Limit"] == "5"
                async with http.post(url, json={"content": "6"}) as resp:
                    body = await resp.json()
                    assert resp.status == 429 and resp.headers["Via"] == "1.1 google"
                    assert 0 < body["retry_after"] <= 5 and body["global"] is False
                async with http.get(f"{ld.api_url}/users/@me", headers={"Authorization": "x"}) as r:
                    assert r.status == 401
            assert ld.invalid_request_count == 2

    asyncio.run(scenario())


@pytest.mark.parametrize("how", ["close-4000", "drop", "op7"])
def test_resume_replays_missed_events_once(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    async def scenario() -> None:
        async with server(monkeypatch) as ld:
            cid = ld.add_channel("general")
            async with logged_in(Bot()) as bot:
                ld.post_user_message(cid, "before")
                await bot.until(lambda: len(bot.received) == 1)
                if how == "op7":
                    ld.send_reconnect()
                else:
                    ld.disconnect(4000 if how == "close-4000" else 1006)
                for i in range(3):
                    ld.post_user_message(cid, f"missed {i}")
                await ld.wait_for(lambda: ld.resume_count == 1, 5, "resumed")
                await bot.until(lambda: len(bot.received) >= 4)
                ld.post_user_message(cid, "after")
                await bot.until(lambda: len(bot.received) >= 5)
                contents = [m.content for m in bot.received]
                assert contents == ["before", "missed 0", "missed 1", "missed 2", "after"]
                assert ld.identify_count == 1 and ld.connected_sessions == 1

    asyncio.run(scenario())


def test_message_content_intent(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with server(monkeypatch, message_content_intent_enabled=False) as ld:
            ld.add_channel("general")
            with pytest.raises(discord.PrivilegedIntentsRequired):
                async with logged_in(Bot(message_content=True)):
                    pass
        async with server(monkeypatch) as ld:
            cid = ld.add_channel("general")
            async with logged_in(Bot(message_content=False)) as bot:
                ld.post_user_message(cid, "secret", attachments=[("a.txt", b"a")])
                got = await bot.until(lambda: bot.received)
                assert got[0].content == "" and got[0].attachments == []
                sent = await text_channel(bot, cid).send("mine")
                own = await bot.until(lambda: [m for m in bot.received if m.id == sent.id])
                assert own[0].content == "mine"

    asyncio.run(scenario())


def test_wrong_token_is_login_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with server(monkeypatch) as ld:
            with pytest.raises(discord.LoginFailure):
                async with logged_in(Bot(), token="wrong"):
                    pass
            assert ld.invalid_request_count == 1

    asyncio.run(scenario())


class Confirm(discord.ui.View):
    @discord.ui.button(label="Yes", custom_id="yes")
    async def yes(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await interaction.response.send_message(f"yes from {interaction.user.id}")

    @discord.ui.button(label="Done", custom_id="done")
    async def done(self, interaction: discord.Interaction, button: discord.ui.Button[Any]) -> None:
        await interaction.response.edit_message(content="closed", view=None)


def test_button_click_reaches_view(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with server(monkeypatch) as ld:
            cid = ld.add_channel("general")
            async with logged_in(Bot()) as bot:
                prompt = await text_channel(bot, cid).send("Allow?", view=Confirm(timeout=None))
                iid = ld.click_button(cid, prompt.id, "yes")
                answers = await ld.wait_for(lambda: ld.interaction_responses(iid), 5)
                assert answers[0]["type"] == 4
                assert answers[0]["data"]["content"] == f"yes from {ld.default_user.id}"
                assert ld.messages(cid)[-1]["content"].startswith("yes from")
                iid = ld.click_button(cid, prompt.id, "done")
                answers = await ld.wait_for(lambda: ld.interaction_responses(iid), 5)
                assert answers[0]["type"] == 7
                assert ld.message(cid, prompt.id)["content"] == "closed"
                assert ld.message(cid, prompt.id)["components"] == []
                with pytest.raises(ValueError, match="no component"):
                    ld.click_button(cid, prompt.id, "yes")

    asyncio.run(scenario())


def test_slash_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with server(monkeypatch) as ld:
            cid = ld.add_channel("general")
            bot = Bot()

            @bot.tree.command(name="status", description="Show status")
            async def status(interaction: discord.Interaction, session: int = 0) -> None:
                await interaction.response.send_message(f"session {session} ok", ephemeral=True)

            @bot.tree.command(name="recover", description="Recover a session")
            async def recover(interaction: discord.Interaction) -> None:
                await interaction.response.defer(thinking=True)
                await interaction.edit_original_response(content="recovered")
                await interaction.followup.send("and a followup")

            async with logged_in(bot):
                synced = await bot.tree.sync()
                assert {c.name for c in synced} == {"status", "recover"}
                assert {c["name"] for c in ld.commands()} == {"status", "recover"}
                iid = ld.invoke_command(cid, "status", {"session": 3})
                answers = await ld.wait_for(lambda: ld.interaction_responses(iid), 5)
                assert answers[0]["type"] == 4 and answers[0]["data"]["content"] == "session 3 ok"
                assert answers[0]["data"]["flags"] == 64
                assert ld.messages(cid) == []  # ephemeral answers are not in the channel
                iid = ld.invoke_command(cid, "recover")
                await ld.wait_for(lambda: len(ld.interaction_responses(iid)) == 3, 5)
                answers = ld.interaction_responses(iid)
                assert [a["kind"] for a in answers] == ["callback", "edit", "followup"]
                assert answers[0]["type"] == 5
                assert [m["content"] for m in ld.messages(cid)] == ["recovered", "and a followup"]

    asyncio.run(scenario())


def test_a_deferred_answer_replaces_its_loading_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on Discord, the first followup after a "thinking" defer becomes that message: no
    empty "loading" message is left behind (public or ephemeral); later followups are new."""

    async def scenario() -> None:
        async with server(monkeypatch) as ld:
            cid = ld.add_channel("general")
            bot = Bot()

            @bot.tree.command(name="interrupt", description="Interrupt")
            async def interrupt(interaction: discord.Interaction) -> None:
                await interaction.response.defer(thinking=True)
                await interaction.followup.send("interrupted")
                await interaction.followup.send("and one more")

            @bot.tree.command(name="status", description="Status")
            async def status(interaction: discord.Interaction) -> None:
                await interaction.response.defer(ephemeral=True, thinking=True)
                await interaction.followup.send("all fine", ephemeral=True)

            async with logged_in(bot):
                await bot.tree.sync()
                iid = ld.invoke_command(cid, "interrupt")
                await ld.wait_for(lambda: len(ld.messages(cid)) == 2, 5)
                await ld.wait_for(lambda: len(ld.interaction_responses(iid)) == 3, 5)
                first, second = ld.messages(cid)
                assert (first["content"], second["content"]) == ("interrupted", "and one more")
                assert first["flags"] & (1 << 7) == 0 and first["interaction_metadata"]
                kinds = [r["kind"] for r in ld.interaction_responses(iid)]
                assert kinds == ["callback", "followup", "followup"]
                iid = ld.invoke_command(cid, "status")
                await ld.wait_for(lambda: len(ld.interaction_responses(iid)) == 2, 5)
                shown = list(ld.interactions.live[iid].ephemeral.values())
                assert [(m["content"], m["flags"]) for m in shown] == [("all fine", 64)]
                assert len(ld.messages(cid)) == 2  # ephemeral answers stay out of the channel

    asyncio.run(scenario())


def test_the_chat_page_runs_registered_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """`/name` in the page's box is an APPLICATION_COMMAND when the bot registered `name` (its
    private answer shown on the page only); any other `/...` is a message, for Claude."""

    async def scenario() -> None:
        async with (
            server(monkeypatch) as ld,
            aiohttp.ClientSession(headers={"X-Local-Key": ld.page_key}) as page,
        ):
            cid = ld.add_channel("general")
            bot = Bot()
            seen: list[int | None] = []

            @bot.tree.command(name="interrupt", description="Interrupt")
            async def interrupt(
                interaction: discord.Interaction, session: int | None = None
            ) -> None:
                seen.append(session)
                await interaction.response.send_message(f"stopping {session}", ephemeral=True)

            async def send(text: str) -> tuple[int, dict[str, Any]]:
                url = f"{ld.base_url}/local/channels/{cid}/messages"
                async with page.post(url, json={"content": text}) as resp:
                    return resp.status, dict(await resp.json())

            async with logged_in(bot):
                await bot.tree.sync()
                status, answer = await send("/interrupt 2")
                assert status == 200 and "interaction_id" in answer
                await ld.wait_for(lambda: seen, 5, "the command")
                assert seen == [2]
                status, answer = await send("/interrupt two")
                assert status == 400 and "session must be a number" in answer["message"]
                status, answer = await send("/clear")
                assert status == 200 and answer["message"]["content"] == "/clear"
                assert [m["content"] for m in ld.messages(cid)] == ["/clear"]

                live = ld.interactions.live.values()
                await ld.wait_for(lambda: any(i.ephemeral for i in live), 5, "the answer")
                async with page.get(ld.base_url + "/local/state") as resp:
                    messages = (await resp.json())["channels"][0]["messages"]
                private = [m for m in messages if m["ephemeral"]]
                assert [m["content"] for m in private] == ["stopping 2"]
                assert seen == [2]

    asyncio.run(scenario())


def test_raw_gateway_protocol_and_chat_page(monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> None:
        async with (
            server(monkeypatch) as ld,
            aiohttp.ClientSession(headers={"X-Local-Key": ld.page_key}) as http,
        ):
            cid = ld.add_channel("general")
            async with http.ws_connect(ld.gateway_url + "?v=10&encoding=json") as ws:
                assert (await ws.receive_json())["op"] == 10
                await ws.send_json({"op": 1, "d": None})
                assert (await ws.receive_json())["op"] == 11
                await ws.send_json({"op": 6, "d": {"token": TOKEN, "session_id": "x", "seq": 1}})
                assert await ws.receive_json() == {"op": 9, "d": False}
                await ws.send_json({"op": 2, "d": {"token": "bad", "intents": 513}})
                closing = await ws.receive()
                assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4004
            async with http.get(ld.base_url + "/") as resp:
                assert resp.status == 200 and "<form" in await resp.text()
            post = f"{ld.base_url}/local/channels/{cid}/messages"
            async with http.post(post, json={"content": "from the page", "username": "ann"}) as r:
                assert r.status == 200
            async with http.get(ld.base_url + "/local/state") as resp:
                state = await resp.json()
            assert state["channels"][0]["messages"][0]["content"] == "from the page"
            assert state["channels"][0]["messages"][0]["author"] == "ann"
            # Other web sites cannot post as the user (CSRF) nor read through DNS rebinding.
            foreign = {"Origin": "http://evil.example", "Content-Type": "application/json"}
            async with http.post(post, data=b'{"content": "x"}', headers=foreign) as r:
                assert r.status == 403
            async with http.post(
                post, data=b'{"content": "x"}', headers={"Origin": ld.base_url}
            ) as r:
                assert r.status == 403  # text/plain: a "simple" cross-site request
            rebound = {"Host": f"evil.example:{ld.port}"}
            async with http.get(ld.base_url + "/local/state", headers=rebound) as r:
                assert r.status == 403
            assert len(ld.messages(cid)) == 1

    asyncio.run(scenario())


def test_thread_wrapper_sync_controls() -> None:
    with LocalDiscordThread(rate_limits=False) as ld:
        cid = ld.add_channel("general")
        request = urllib.request.Request(
            f"{ld.api_url}/channels/{cid}/messages",
            data=json.dumps({"content": "over plain REST"}).encode(),
            headers={"Authorization": f"Bot {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert resp.headers["Content-Type"] == "application/json"
        found = ld.wait_for(lambda: ld.messages(cid), 2)
        assert found[0]["author"]["bot"] is True
        user_msg = ld.post_user_message(cid, "typed by a user")
        assert user_msg["author"]["id"] == str(ld.default_user.id)
        with pytest.raises(TimeoutError, match="never"):
            ld.wait_for(lambda: len(ld.messages(cid)) > 5, 0.2, what="never")
