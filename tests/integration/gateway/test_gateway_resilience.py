"""A good Discord citizen: 429s (with and without Via), lost responses, reconnects and resumes,
and clear errors for what only the operator can fix."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import discord
import discord.gateway
import discord.http
import pytest
import yarl

from tests.support.gateway_rig import FakeSupervisor, Rig, gateway_rig, make_map, run
from vai.common.bus_auth import ServerKeys
from vai.common.child_secrets import ChildSecrets, secrets_pipe
from vai.common.exit_codes import EXIT_CONFIG
from vai.gateway.bot import BridgeBot
from vai.gateway.local_discord import LocalDiscord, LocalDiscordThread
from vai.gateway.local_discord import gateway_ws as discord_gateway
from vai.gateway.main import run as run_gateway
from vai.protocol.layout import Layout
from vai.protocol.messages import (
    GatewayHello,
    GatewayProblem,
    Inbound,
    PostReply,
    ReplyPosted,
    Route,
    SessionMap,
)
from vai.protocol.specs import GatewaySettings, GatewaySpec, encode_spec

pytestmark = pytest.mark.timeout(90)
POSTS = r"/channels/\d+/messages$"


def posts(rig: Rig, channel: int) -> list[int]:
    """Statuses of the POSTs to a channel's messages, in order."""
    return [
        r.status
        for r in rig.discord.request_log
        if r.method == "POST" and r.path.endswith(f"/channels/{channel}/messages")
    ]


def test_a_429_with_via_is_retried_by_discord_py_and_counted(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp) as rig:
            chan = rig.channels[0]
            rig.discord.inject_429("POST", POSTS, count=2, retry_after=0.05, via=True)
            await rig.sup.send(PostReply(reply_id="r1", channel_id=chan, text="hello"))
            await rig.wait(lambda: rig.sup.of_type(ReplyPosted), what="the reply posted")
            assert [m["content"] for m in rig.bot_messages(chan)] == ["hello"]
            assert posts(rig, chan) == [429, 429, 200]
            assert rig.bot.pacer.stats.rate_limited == 2
            assert rig.bot.pacer.guard.count(rig.bot.pacer.clock()) == 2
            assert rig.discord.invalid_request_count == 2

    run(scenario())


def test_a_429_without_via_pauses_everything_then_retries_once(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp, channels=2) as rig:
            chan_a, chan_b = rig.channels
            user_message = rig.discord.post_user_message(chan_b, "hi")
            await rig.wait(rig.sup.inbound)
            await rig.wait(lambda: rig.discord.reactions(chan_b, int(user_message["id"])))
            # Retry-After: 1 (s). discord.py raises at once: this is the bridge's to handle.
            rig.discord.inject_429("POST", POSTS, count=1, retry_after=0.5, via=False)
            await rig.sup.send(PostReply(reply_id="r1", channel_id=chan_a, text="first"))
            await rig.sup.send(PostReply(reply_id="r2", channel_id=chan_a, text="second"))
            await rig.wait(lambda: posts(rig, chan_a)[:1] == [429], what="the 429")
            # Meanwhile another channel has work too: it waits for the pause as well.
            await rig.sup.send(PostReply(reply_id="r3", channel_id=chan_b, text="other"))
            await rig.wait(lambda: len(rig.sup.of_type(ReplyPosted)) == 3, what="all posted")
            assert [m["content"] for m in rig.bot_messages(chan_a)] == ["first", "second"]
            assert posts(rig, chan_a) == [429, 200, 200]  # one retry, no storm
            log = [r for r in rig.discord.request_log if r.path.startswith("/api")]
            limited = next(i for i, r in enumerate(log) if r.status == 429)
            after = log[limited + 1 :]
            assert after, "the retry happened"
            # Nothing at all was sent before Retry-After had passed.
            assert min(r.time for r in after) - log[limited].time >= 0.95
            assert rig.discord.invalid_request_count == 1
            assert rig.bot.pacer.stats.pauses >= 1

    run(scenario())


def test_a_global_429_pauses_the_whole_bot(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp) as rig:
            chan = rig.channels[0]
            rig.discord.inject_429("POST", POSTS, count=1, retry_after=0.3, via=True, global_=True)
            await rig.sup.send(PostReply(reply_id="r1", channel_id=chan, text="after the pause"))
            await rig.wait(lambda: rig.sup.of_type(ReplyPosted))
            assert posts(rig, chan) == [429, 200]
            assert rig.bot.pacer.stats.pauses == 1

    run(scenario())


def test_a_lost_response_does_not_post_twice(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp) as rig:
            chan = rig.channels[0]
            rig.discord.inject_drop("POST", POSTS)
            await rig.sup.send(PostReply(reply_id="r1", channel_id=chan, text="exactly once"))
            await rig.wait(lambda: rig.sup.of_type(ReplyPosted), what="the reply reported")
            assert rig.sup.of_type(ReplyPosted)[0].ok
            assert posts(rig, chan) == [0, 200]  # the first answer was lost, the retry deduped
            assert [m["content"] for m in rig.bot_messages(chan)] == ["exactly once"]

    run(scenario())


def test_a_resume_loses_nothing_and_repeats_nothing(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp) as rig:
            chan = rig.channels[0]
            rig.discord.post_user_message(chan, "before")
            await rig.wait(lambda: len(rig.sup.inbound()) == 1)
            rig.discord.disconnect(4000)
            await rig.wait(lambda: rig.discord.connected_sessions == 0, what="the drop")
            for i in range(3):
                rig.discord.post_user_message(chan, f"while away {i}")
            await rig.wait(lambda: rig.discord.resume_count == 1, what="the resume")
            rig.discord.post_user_message(chan, "after")
            await rig.wait(lambda: len(rig.sup.inbound()) == 5, what="every message")
            assert [m.content for m in rig.sup.inbound()] == [
                "before",
                "while away 0",
                "while away 1",
                "while away 2",
                "after",
            ]
            assert rig.discord.identify_count == 1
            assert len({m.seq for m in rig.sup.of_type(Inbound)}) == 5  # each sent once

    run(scenario())


def test_a_full_reconnect_catches_up_from_history(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    identify = discord_gateway.Gateway._identify

    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp) as rig:
            chan = rig.channels[0]

            def identify_then_post(gateway: discord_gateway.Gateway, *args: Any) -> None:
                # A live message right behind READY: it arrives before the catch-up began.
                identify(gateway, *args)
                if gateway.identify_count == 2:
                    rig.discord.post_user_message(chan, "after")

            monkeypatch.setattr(discord_gateway.Gateway, "_identify", identify_then_post)
            rig.discord.post_user_message(chan, "before")
            await rig.wait(lambda: len(rig.sup.inbound()) == 1)
            # Discord forgets the session: events in between are never sent to the bot.
            rig.discord.invalidate_sessions(resumable=False)
            await rig.wait(lambda: rig.discord.connected_sessions == 0, what="the drop")
            rig.discord.post_user_message(chan, "lost from the gateway 1")
            rig.discord.post_user_message(chan, "lost from the gateway 2")
            await rig.wait(lambda: len(rig.sup.inbound()) == 4, 20, "every message")
            assert [m.content for m in rig.sup.inbound()] == [
                "before",
                "lost from the gateway 1",
                "lost from the gateway 2",
                "after",
            ]
            # Each was sent to the supervisor once (resends of unacked ones aside).
            assert len({m.seq for m in rig.sup.of_type(Inbound)}) == 4

    run(scenario())


def test_channels_the_bot_cannot_see_are_reported_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    missing = 999_999_999_999_999_999
    hidden: list[int] = []

    def session_map(ids: list[int]) -> SessionMap:
        return SessionMap(
            routes=[
                Route(session=1, channel_id=ids[0]),
                Route(session=2, channel_id=ids[1]),
                Route(session=3, channel_id=missing),
            ]
        )

    def hide_second(server: LocalDiscord) -> GatewaySettings:
        hidden.extend(cid for cid, name in server.channels().items() if name == "channel-2")
        server.hide_channel(hidden[0])  # before the gateway starts
        return GatewaySettings()

    async def scenario() -> None:
        async with gateway_rig(
            monkeypatch, short_tmp, channels=2, session_map=session_map, settings=hide_second
        ) as rig:
            await rig.wait(lambda: len(rig.sup.of_type(GatewayProblem)) >= 2, what="two problems")
            problems = rig.sup.of_type(GatewayProblem)
            by_channel = {p.channel_id: p.text for p in problems}
            assert not any(p.fatal for p in problems)
            assert "cannot see session 2's channel" in by_channel[hidden[0]]
            assert "View Channel" in by_channel[hidden[0]]
            assert "does not exist or the bot is not in its server" in by_channel[missing]
            # The other session works normally.
            rig.discord.post_user_message(rig.channels[0], "still here")
            await rig.wait(rig.sup.inbound)
            # Nothing is sent where it cannot go (each 403 would count toward a ban).
            await rig.sup.send(PostReply(reply_id="r1", channel_id=hidden[0], text="hello?"))
            await rig.wait(lambda: rig.sup.of_type(ReplyPosted), what="the failure reported")
            failed = rig.sup.of_type(ReplyPosted)[0]
            assert not failed.ok and "cannot see" in failed.error
            assert posts(rig, hidden[0]) == []

    run(scenario())


def test_a_channel_lost_later_is_tried_once_then_left_alone(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp) as rig:
            chan = rig.channels[0]
            rig.discord.hide_channel(chan)  # after the start-up check found it fine
            for n in range(3):
                await rig.sup.send(PostReply(reply_id=f"r{n}", channel_id=chan, text=f"{n}"))
            await rig.wait(lambda: len(rig.sup.of_type(ReplyPosted)) == 3, what="all reported")
            assert not any(r.ok for r in rig.sup.of_type(ReplyPosted))
            assert posts(rig, chan) == [403]
            problem = await rig.wait(lambda: rig.sup.of_type(GatewayProblem))
            assert problem[0].channel_id == chan and "cannot post" in problem[0].text

    run(scenario())


async def run_alone(
    home: Path, ld: LocalDiscord, token: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, list[GatewayProblem]]:
    """The gateway's whole main path, in-process, with a fake supervisor listening."""
    layout = Layout(str(home / "vai"))
    sup = FakeSupervisor(layout, make_map([ld.add_channel("c")]))
    sup.start()
    spec = GatewaySpec(home=layout.home, api_url=ld.api_url, gateway_url=ld.gateway_url)
    # run() points discord.py at the server; put the class attributes back afterwards.
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    websocket = discord.gateway.DiscordWebSocket
    monkeypatch.setattr(websocket, "DEFAULT_GATEWAY", websocket.DEFAULT_GATEWAY)
    try:
        code = await asyncio.wait_for(run_gateway(spec, token, sup.client_keys), 30)
        await sup.wait_for(lambda: sup.of_type(GatewayProblem), 5, "the problem report")
        return code, sup.of_type(GatewayProblem)
    finally:
        sup.close()


def test_a_bad_token_is_a_clear_configuration_error(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with LocalDiscord(token="the-right-token") as ld:
            code, problems = await run_alone(short_tmp, ld, "a-wrong-token", monkeypatch)
            assert code == EXIT_CONFIG
            assert problems[0].fatal
            assert "Discord refused the bot token" in problems[0].text
            assert "DISCORD_BOT_TOKEN" in problems[0].text
            assert ld.invalid_request_count == 1  # one 401, no retry storm

    run(scenario())


def test_a_missing_message_content_intent_is_a_clear_configuration_error(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with LocalDiscord(token="t", message_content_intent_enabled=False) as ld:
            code, problems = await run_alone(short_tmp, ld, "t", monkeypatch)
            assert code == EXIT_CONFIG
            assert problems[0].fatal and "Message Content intent" in problems[0].text
            assert "Privileged Gateway Intents" in problems[0].text

    run(scenario())


def test_the_gateway_process_says_what_to_fix_without_a_traceback(short_tmp: Path) -> None:
    keys = ServerKeys.new().client_keys("gateway")
    with (
        LocalDiscordThread(token="right") as discord,
        secrets_pipe(ChildSecrets(bus=keys, bot_token="wrong")) as secrets_fd,
    ):
        spec = GatewaySpec(
            home=str(short_tmp / "vai"),
            api_url=discord.api_url,
            gateway_url=discord.gateway_url,
            secrets_fd=secrets_fd,
        )
        done = subprocess.run(
            [sys.executable, "-m", "vai.gateway"],
            env={**os.environ, "VAI_GATEWAY_SPEC": encode_spec(spec)},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            pass_fds=(secrets_fd,),
        )
    assert done.returncode == EXIT_CONFIG, done.stderr
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if " ERROR " in line]
    assert len(errors) == 1
    assert "Discord refused the bot token" in errors[0] and "Reset Token" in errors[0]


def test_discord_unreachable_at_start_is_reported_and_retried(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        with socket.socket() as probe:  # a port nobody listens on, for now
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        api_url = f"http://127.0.0.1:{port}/api/v10"
        layout = Layout(str(short_tmp / "vai"))
        sup = FakeSupervisor(layout, SessionMap(routes=[]))
        sup.start()
        monkeypatch.setattr(discord.http.Route, "BASE", api_url)
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket,
            "DEFAULT_GATEWAY",
            yarl.URL(f"ws://127.0.0.1:{port}/gateway"),
        )
        spec = GatewaySpec(home=layout.home, api_url=api_url, gateway_url="")
        bot = BridgeBot(spec, sup.client_keys, guild_ready_timeout=0.05)
        bot.start_link()
        task = asyncio.create_task(bot.run_discord("t"))
        try:
            problem = await sup.wait_for(lambda: sup.of_type(GatewayProblem), 10, "the report")
            assert problem[0].channel_id < 0 and "cannot reach Discord" in problem[0].text
            assert not problem[0].fatal
            async with LocalDiscord(token="t", port=port):
                await sup.wait_for(lambda: sup.of_type(GatewayHello), 20, "the login")
                cleared = await sup.wait_for(
                    lambda: [p for p in sup.of_type(GatewayProblem) if p.text == ""], 5, "clear"
                )
                assert cleared[0].channel_id == problem[0].channel_id
                await bot.close()
                await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 10)
        finally:
            bot.link.close()
            sup.close()

    run(scenario())
