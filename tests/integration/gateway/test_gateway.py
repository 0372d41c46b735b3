"""The gateway against the local Discord server, with the test playing the supervisor.

Who gets forwarded, what users see (reactions, typing, replies split or attached, files,
progress), each checked on the Discord server's own state.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway_rig import Rig, gateway_rig, make_map, run
from vai.gateway.local_discord import LocalDiscord
from vai.gateway.replies import nonce_for
from vai.protocol.messages import (
    Inbound,
    PostReply,
    PromptProgress,
    ReplyPosted,
    Route,
    SessionMap,
    ToolProgress,
)
from vai.protocol.specs import GatewaySettings
from vai.worker.standin.cli import long_answer

pytestmark = pytest.mark.timeout(60)


def contents(rig: Rig, channel: int) -> list[str]:
    return [m["content"] for m in rig.bot_messages(channel)]


def test_a_message_goes_in_and_its_answer_comes_out(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp, channels=2) as rig:
            chan_a, chan_b = rig.channels
            sent = rig.discord.post_user_message(chan_b, "hello @everyone")
            message_id = int(sent["id"])
            forwarded = await rig.wait(rig.sup.inbound, what="the message forwarded")
            assert [(m.content, m.channel_id) for m in forwarded] == [("hello @everyone", chan_b)]
            assert rig.sup.of_type(Inbound)[0].session == 2

            def reactions() -> set[str]:
                return set(rig.discord.reactions(chan_b, message_id))

            await rig.wait(lambda: "📥" in reactions(), what="received reaction")
            await rig.sup.send(
                PromptProgress(channel_id=chan_b, message_id=message_id, stage="accepted")
            )
            await rig.wait(lambda: "✅" in reactions(), what="accepted reaction")
            await rig.wait(
                lambda: any(int(e["channel_id"]) == chan_b for e in rig.discord.typing_events),
                what="typing while Claude works",
            )
            await rig.sup.send(
                PostReply(
                    reply_id="s2-t1",
                    channel_id=chan_b,
                    text="echo: hello @everyone",
                    reference_message_id=message_id,
                    turn_id="t1",
                )
            )
            posted = await rig.wait_bot_message(chan_b, lambda m: m["content"].startswith("echo"))
            assert posted["message_reference"]["message_id"] == str(message_id)
            assert posted["nonce"] == nonce_for("s2-t1", 1)
            assert posted["mention_everyone"] is False
            await rig.wait(lambda: rig.sup.of_type(ReplyPosted), what="ReplyPosted")
            assert rig.sup.of_type(ReplyPosted)[0].ok
            assert not rig.bot.typing.active(chan_b)
            # The bridge's own answer is never forwarded back to Claude.
            assert len(rig.sup.inbound()) == 1
            assert rig.bot_messages(chan_a) == []

    run(scenario())


def test_failed_delivery_gets_a_mark_and_a_reason(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp) as rig:
            chan = rig.channels[0]
            sent = rig.discord.post_user_message(chan, "please")
            await rig.wait(rig.sup.inbound)
            failed = PromptProgress(
                channel_id=chan, message_id=int(sent["id"]), stage="failed", detail="Claude died"
            )
            await rig.sup.send(failed)
            notice = await rig.wait_bot_message(chan, lambda m: "Not delivered" in m["content"])
            assert "Claude died" in notice["content"]
            assert "❌" in rig.discord.reactions(chan, int(sent["id"]))
            await rig.sup.send(failed)  # told twice: still one notice (nonce per message)
            await rig.wait(lambda: len(rig.requests("POST", f"/channels/{chan}/messages")) == 2)
            assert contents(rig, chan).count(notice["content"]) == 1

    run(scenario())


def test_bots_webhooks_and_the_bridge_itself_are_never_forwarded(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp) as rig:
            chan = rig.channels[0]
            other_bot = rig.discord.make_user("otherbot", bot=True)
            rig.discord.post_user_message(chan, "from a bot", author=other_bot)
            rig.discord.post_user_message(chan, "from a webhook", webhook_id=4242)
            await rig.sup.send(PostReply(reply_id="x", channel_id=chan, text="from the bridge"))
            await rig.wait_bot_message(chan, lambda m: m["content"] == "from the bridge")
            rig.discord.post_user_message(chan, "from a human")
            forwarded = await rig.wait(rig.sup.inbound)
            assert [m.content for m in forwarded] == ["from a human"]
            assert rig.bot.inbound.dropped == {"bot or webhook": 2, "own message": 1}

    run(scenario())


def test_people_not_allowed_get_no_forwarding_and_a_quiet_reaction(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    alice_id, bob_id = 7001, 7002

    def session_map(ids: list[int]) -> SessionMap:
        # Session 2 is Bob's alone.
        return make_map(ids, allowed_users={2: (bob_id,)})

    roles: list[int] = []

    def settings(server: LocalDiscord) -> GatewaySettings:
        roles.append(server.add_role("devs"))
        return GatewaySettings(allowed_users=[alice_id], allowed_roles=roles, denied_reaction="🚫")

    async def scenario() -> None:
        async with gateway_rig(
            monkeypatch, short_tmp, channels=2, settings=settings, session_map=session_map
        ) as rig:
            chan_1, chan_2 = rig.channels
            devs = roles[0]
            alice = {"id": alice_id, "username": "alice"}
            bob = {"id": bob_id, "username": "bob"}
            dev = rig.discord.make_user("dana", roles=[devs])
            mallory = rig.discord.make_user("mallory")
            stranger = rig.discord.post_user_message(chan_1, "let me in", author=mallory)
            rig.discord.post_user_message(chan_1, "bob in 1", author=bob)
            rig.discord.post_user_message(chan_1, "alice in 1", author=alice)
            rig.discord.post_user_message(chan_1, "dana by role", author=dev)
            rig.discord.post_user_message(chan_2, "alice in 2", author=alice)
            rig.discord.post_user_message(chan_2, "bob in 2", author=bob)
            await rig.wait(lambda: len(rig.sup.inbound()) == 3, what="three allowed messages")
            await rig.wait(
                lambda: "🚫" in rig.discord.reactions(chan_1, int(stranger["id"])),
                what="the quiet reaction",
            )
            assert [m.content for m in rig.sup.inbound()] == [
                "alice in 1",
                "dana by role",
                "bob in 2",
            ]
            assert rig.bot.inbound.dropped["user not allowed"] == 3
            assert contents(rig, chan_1) == [] and contents(rig, chan_2) == []  # no replies

    run(scenario())


def test_a_flood_is_held_back_with_one_clear_notice(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    """rate_limit_queue = 0: the strict mode, every message over the limit refused (❌, as
    it was not sent; ⏳ now means "waiting")."""

    async def scenario() -> None:
        settings = GatewaySettings(
            user_burst=3, user_per_minute=1, session_burst=100, rate_limit_queue=0
        )
        async with gateway_rig(monkeypatch, short_tmp, settings=settings) as rig:
            chan = rig.channels[0]
            posted = [rig.discord.post_user_message(chan, f"m{i}") for i in range(6)]
            notice = await rig.wait_bot_message(chan, lambda m: "Slow down" in m["content"])
            assert notice["message_reference"]["message_id"] == posted[3]["id"]
            assert "not** sent to Claude" in notice["content"]
            for held in posted[3:]:

                def marked(held: dict[str, Any] = held) -> bool:
                    return "❌" in rig.discord.reactions(chan, int(held["id"]))

                await rig.wait(marked, what="the refused reaction")
            await rig.wait(lambda: len(rig.sup.inbound()) == 3)
            assert [m.content for m in rig.sup.inbound()] == ["m0", "m1", "m2"]
            assert len([c for c in contents(rig, chan) if "Slow down" in c]) == 1

    run(scenario())


def test_over_the_limit_messages_wait_in_order_and_only_a_flood_is_refused(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        settings = GatewaySettings(
            user_burst=2, user_per_minute=120, session_burst=100, rate_limit_queue=2
        )
        async with gateway_rig(monkeypatch, short_tmp, settings=settings) as rig:
            chan = rig.channels[0]
            posted = [rig.discord.post_user_message(chan, f"m{i}") for i in range(6)]

            def reactions(index: int) -> dict[str, list[int]]:
                return rig.discord.reactions(chan, int(posted[index]["id"]))

            # m2 and m3 wait their turn (⏳, one notice); m4 and m5 are refused (❌).
            await rig.wait(lambda: "⏳" in reactions(2), what="m2 waiting")
            notice = await rig.wait_bot_message(
                chan, lambda m: "waits and goes to Claude in order" in m["content"]
            )
            assert notice["message_reference"]["message_id"] == posted[2]["id"]
            refused = await rig.wait_bot_message(chan, lambda m: "not** sent" in m["content"])
            assert refused["message_reference"]["message_id"] == posted[4]["id"]
            await rig.wait(lambda: "❌" in reactions(5), what="m5 refused")
            # The waiting ones arrive, in order, and lose their ⏳.
            await rig.wait(lambda: len(rig.sup.inbound()) == 4, timeout=10)
            assert [m.content for m in rig.sup.inbound()] == ["m0", "m1", "m2", "m3"]
            await rig.wait(lambda: "⏳" not in reactions(2) and "⏳" not in reactions(3))
            assert "⏳" not in reactions(4) and "❌" not in reactions(3)

    run(scenario())


def test_unmapped_channels_are_ignored_unless_routed_to_the_default(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp, channels=2) as rig:
            chan_1, chan_2 = rig.channels
            other = rig.discord.add_channel("unmapped")
            rig.discord.post_user_message(other, "nobody listens")
            rig.discord.post_user_message(chan_1, "mapped")
            await rig.wait(rig.sup.inbound)
            assert [m.content for m in rig.sup.inbound()] == ["mapped"]
            routes = [Route(session=1, channel_id=chan_1), Route(session=2, channel_id=chan_2)]
            await rig.sup.update_map(
                SessionMap(routes=routes, default_session=2, route_unmapped=True)
            )
            await rig.wait(lambda: rig.bot.router.session_for(other) == 2)
            rig.discord.post_user_message(other, "now routed")
            await rig.wait(lambda: len(rig.sup.inbound()) == 2)
            last = rig.sup.of_type(Inbound)[-1]
            assert last.session == 2 and last.message.content == "now routed"

    run(scenario())


def test_a_4500_character_answer_is_split_with_its_code_block_intact(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp) as rig:
            chan = rig.channels[0]
            text = long_answer(4500)
            await rig.sup.send(PostReply(reply_id="long", channel_id=chan, text=text))
            await rig.wait(lambda: rig.sup.of_type(ReplyPosted), what="the reply posted")
            parts = contents(rig, chan)
            assert len(parts) == 3
            assert all(len(p) <= 2000 for p in parts)
            assert all(p.count("```") % 2 == 0 for p in parts)
            assert "".join(parts).count("code line") == text.count("code line")
            assert parts[0].startswith(text[:50])
            # Posted again (the supervisor re-sends unposted replies): nothing new.
            await rig.sup.send(PostReply(reply_id="long", channel_id=chan, text=text))
            await rig.sup.send(PostReply(reply_id="after", channel_id=chan, text="next"))
            await rig.wait(lambda: "next" in contents(rig, chan))
            assert len(contents(rig, chan)) == 4

    run(scenario())


def test_an_answer_too_long_for_a_few_messages_is_attached(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp) as rig:
            chan = rig.channels[0]
            text = long_answer(30_000)
            await rig.sup.send(PostReply(reply_id="huge", channel_id=chan, text=text))
            posted = await rig.wait_bot_message(chan, lambda m: bool(m["attachments"]))
            assert "30,000 characters" in posted["content"]
            attachment = posted["attachments"][0]
            assert attachment["filename"] == "answer.md"
            data = rig.discord.attachment_bytes(chan, int(attachment["id"]))
            assert data.decode() == text
            assert len(rig.bot_messages(chan)) == 1

    run(scenario())


def test_files_are_uploaded_within_discords_limit(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        settings = GatewaySettings(max_upload_bytes=4096)
        async with gateway_rig(monkeypatch, short_tmp, settings=settings) as rig:
            chan = rig.channels[0]
            small = short_tmp / "plot\r\n.png"
            small.write_bytes(b"\x89PNG" + b"0" * 1000)
            big = short_tmp / "dump.bin"
            big.write_bytes(b"1" * 5000)
            await rig.sup.send(
                PostReply(reply_id="f1", channel_id=chan, text="the plot", file_path=str(small))
            )
            await rig.sup.send(PostReply(reply_id="f2", channel_id=chan, file_path=str(big)))
            await rig.wait(lambda: len(rig.sup.of_type(ReplyPosted)) == 2, what="both handled")
            first, second = rig.bot_messages(chan)
            assert first["content"] == "the plot"
            assert first["attachments"][0]["filename"] == "plot__.png"
            assert rig.discord.attachment_bytes(chan, int(first["attachments"][0]["id"])) == (
                small.read_bytes()
            )
            assert second["attachments"] == []
            assert "dump.bin" in second["content"] and "over Discord's 4.0 KiB" in second["content"]
            assert all(r.ok for r in rig.sup.of_type(ReplyPosted))

    run(scenario())


def progress_events(chan: int, turn: str = "t1") -> list[ToolProgress]:
    steps: list[dict[str, Any]] = [
        {"tool_name": "Read", "summary": "src/app.py"},
        {"tool_name": "Read", "summary": "", "done": True},
        {"tool_name": "Bash", "summary": "pytest -q"},
        {"tool_name": "Bash", "summary": "", "done": True},
        {"tool_name": "Edit", "summary": "src/app.py"},
    ]
    return [ToolProgress(session=1, turn_id=turn, channel_id=chan, **s) for s in steps]


def test_progress_is_one_message_per_turn_edited_as_tools_run(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp) as rig:
            chan = rig.channels[0]
            rig.bot.progress.min_interval = 0.05
            for event in progress_events(chan):
                await rig.sup.send(event)
            message = await rig.wait_bot_message(
                chan, lambda m: "3 steps" in m["content"], "progress with every step"
            )
            assert "⏳ **Edit** `src/app.py`" in message["content"]
            assert "✓ **Bash** `pytest -q`" in message["content"]
            await rig.sup.send(
                PostReply(reply_id="s1-t1", channel_id=chan, text="all done", turn_id="t1")
            )
            await rig.wait(lambda: "all done" in contents(rig, chan))
            final = rig.discord.message(chan, int(message["id"]))
            assert final["content"].startswith("✅ Done: 3 steps")
            assert contents(rig, chan)[-1] == "all done"  # after its progress, in order
            posts = rig.requests("POST", f"/channels/{chan}/messages")
            edits = rig.requests("PATCH", f"/channels/{chan}/messages/{message['id']}")
            assert len(posts) == 2  # the progress message and the answer: no flood
            assert 1 <= len(edits) <= len(progress_events(chan))
            # A new turn gets its own message.
            await rig.sup.send(progress_events(chan, "t2")[0])
            await rig.wait(lambda: len(rig.bot_messages(chan)) == 3)

    run(scenario())


def test_progress_can_be_turned_off(monkeypatch: pytest.MonkeyPatch, short_tmp: Path) -> None:
    async def scenario() -> None:
        settings = GatewaySettings(progress=False)
        async with gateway_rig(monkeypatch, short_tmp, settings=settings) as rig:
            chan = rig.channels[0]
            for event in progress_events(chan):
                await rig.sup.send(event)
            await rig.sup.send(
                PostReply(reply_id="r", channel_id=chan, text="answer", turn_id="t1")
            )
            await rig.wait(lambda: contents(rig, chan) == ["answer"])
            assert len(rig.requests("POST", f"/channels/{chan}/messages")) == 1

    run(scenario())
