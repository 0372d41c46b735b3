"""Hostile text through the gateway: unencodable characters, mentions, failures to forward.

The real discord.py client against the local Discord server, the test playing the
supervisor; every request body the bot sends is read back from the server's log.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway_rig import Rig, gateway_rig, replace, run
from vai.gateway.local_discord import LocalDiscord, LocalUser
from vai.protocol.messages import (
    ChatMessage,
    ChoiceRequest,
    PostReply,
    PromptProgress,
    SessionInfo,
    StatusReply,
    ToolProgress,
    WireMessage,
)
from vai.protocol.specs import GatewaySettings

pytestmark = pytest.mark.timeout(60)
ALICE = 8101

# Requests that create or change a message the bot shows, and where their fields are.
MESSAGE_POST = re.compile(r"/channels/\d+/messages$")
MESSAGE_EDIT = re.compile(r"/channels/\d+/messages/\d+$")
FOLLOWUP = re.compile(r"/webhooks/\d+/[^/]+$")
CALLBACK = re.compile(r"/interactions/\d+/[^/]+/callback$")
WITH_CONTENT = (4, 7)  # interaction callbacks that carry a message (not defer/ack)


def allow_alice(server: LocalDiscord) -> GatewaySettings:
    return GatewaySettings(allowed_users=[ALICE])


def control(request: WireMessage) -> WireMessage:
    """A control API whose answers try to ping everyone."""
    return StatusReply(
        supervisor_pid=1,
        uptime_s=1.0,
        gateway_state="RUNNING",
        gateway_pid=2,
        sessions=[SessionInfo(session=1, channel_id=1, work_dir="/@everyone", detail="@here")],
        problems=["@everyone look"],
    )


def posted_bodies(rig: Rig) -> dict[str, list[dict[str, Any]]]:
    """Every message-bearing request the bot made, by kind, as the server received it."""
    kinds: dict[str, list[dict[str, Any]]] = {"post": [], "edit": [], "followup": []}
    kinds["callback"] = []  # interaction responses that show a message
    for record in rig.discord.request_log:
        body = record.body if isinstance(record.body, dict) else {}
        if record.method == "POST" and MESSAGE_POST.search(record.path):
            kinds["post"].append(body)
        elif record.method == "PATCH" and MESSAGE_EDIT.search(record.path):
            kinds["edit"].append(body)
        elif record.method in ("POST", "PATCH") and FOLLOWUP.search(record.path):
            kinds["followup"].append(body)
        elif CALLBACK.search(record.path) and body.get("type") in WITH_CONTENT:
            kinds["callback"].append(body.get("data") or {})
    return kinds


def pings_nobody(allowed: Any) -> bool:
    """`{"parse": []}` (with `replied_user: false` on replies): no mention notifies."""
    if not isinstance(allowed, dict) or allowed.get("parse") != []:
        return False
    return not allowed.get("users") and not allowed.get("roles") and not allowed.get("replied_user")


def test_every_post_edit_and_followup_pings_nobody(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    ping = "@everyone @here <@&{role}> <@{user}>"

    async def scenario() -> None:
        async with gateway_rig(
            monkeypatch, short_tmp, channels=1, settings=allow_alice, control=control
        ) as rig:
            chan = rig.channels[0]
            role = rig.discord.add_role("everybody")
            alice = rig.discord.make_user("alice", id=ALICE)
            mallory = rig.discord.make_user("mallory")
            text = ping.format(role=role, user=mallory.id)
            rig.bot.progress.min_interval = 0.0
            sent = rig.discord.post_user_message(chan, "hi", author=alice)
            message_id = int(sent["id"])
            await rig.wait(rig.sup.inbound, what="the message forwarded")
            # Progress (a post, then an edit), a failure notice, and the answer.
            step = ToolProgress(
                session=1, turn_id="t1", tool_name="Bash", summary=text, channel_id=chan
            )
            await rig.sup.send(step)
            await rig.wait_bot_message(chan, lambda m: "Bash" in m["content"], "progress")
            await rig.sup.send(replace(step, done=True))
            await rig.wait(lambda: rig.requests("PATCH", f"/channels/{chan}/messages/"))
            await rig.sup.send(
                PromptProgress(channel_id=chan, message_id=message_id, stage="failed", detail=text)
            )
            await rig.sup.send(
                PostReply(
                    reply_id="s1-t1",
                    channel_id=chan,
                    text=f"answer {text}",
                    reference_message_id=message_id,
                    turn_id="t1",
                )
            )
            # A long answer (attached), a dp file and an alert.
            await rig.sup.send(PostReply(reply_id="long", channel_id=chan, text=text * 400))
            upload = short_tmp / "@everyone.txt"
            upload.write_text("file")
            await rig.sup.send(
                PostReply(reply_id="dp-1", channel_id=chan, text=text, file_path=str(upload))
            )
            await rig.sup.send(PostReply(reply_id="alert-1", channel_id=chan, text=f"⚠️ {text}"))
            await rig.wait(lambda: len(rig.bot_messages(chan)) >= 6, what="every post")
            # A question: posted, refused to mallory, answered by alice (the message edited).
            await rig.sup.send(
                ChoiceRequest(
                    request_id="q-1",
                    session=1,
                    kind="question",
                    text=f"pick {text}",
                    options=[f"A {text}", "B"],
                    channel_id=chan,
                    timeout_s=300.0,
                )
            )
            question = await rig.wait_bot_message(chan, lambda m: bool(m["components"]))
            first = question["components"][0]["components"][0]["custom_id"]
            refused = rig.discord.click_button(chan, int(question["id"]), first, user=mallory)
            await rig.wait(lambda: rig.discord.interaction_responses(refused))
            answered = rig.discord.click_button(chan, int(question["id"]), first, user=alice)
            await rig.wait(lambda: rig.discord.interaction_responses(answered))
            # Commands: refused to mallory (a reply), answered to alice (a followup).
            names = await rig.wait(lambda: rig.discord.commands(guild=True), what="commands")
            assert names
            no = rig.discord.invoke_command(chan, "status", user=mallory)
            await rig.wait(lambda: rig.discord.interaction_responses(no))
            yes = rig.discord.invoke_command(chan, "status", user=alice)
            await rig.wait(
                lambda: any(
                    r["kind"] == "followup" for r in rig.discord.interaction_responses(yes)
                ),
                what="the status followup",
            )

            kinds = posted_bodies(rig)
            assert len(kinds["post"]) >= 7 and kinds["edit"] and kinds["followup"]
            assert len(kinds["callback"]) >= 3
            for kind, bodies in kinds.items():
                for body in bodies:
                    assert pings_nobody(body.get("allowed_mentions")), (kind, body)
            shown = [m["content"] for m in rig.bot_messages(chan)]
            assert any("@everyone" in c for c in shown)  # shown as text, pinging nobody
            assert not any(m["mention_everyone"] for m in rig.bot_messages(chan))

    run(scenario())


def test_lone_surrogates_are_replaced_where_they_enter(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "gateway.inbound")

    users: list[LocalUser] = []

    def settings(server: LocalDiscord) -> GatewaySettings:
        users.append(server.make_user("mal\udfffory"))
        return GatewaySettings(allowed_users=[users[0].id])

    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp, settings=settings) as rig:
            chan = rig.channels[0]
            mallory = users[0]
            rig.discord.post_user_message(chan, "x \udfff \ud83d\ude00", author=mallory)
            rig.discord.post_user_message(chan, "next")

            def both() -> list[ChatMessage]:
                found = rig.sup.inbound()
                return found if len(found) == 2 else []

            forwarded = await rig.wait(both, what="both messages")
            assert forwarded[0].content == "x \ufffd 😀"
            assert forwarded[0].author.name == "mal\ufffdory"
            assert forwarded[1].content == "next"
            assert not rig.bot.link.unacked or all(
                isinstance(frame, bytes) for _, frame in rig.bot.link.unacked.values()
            )

    run(scenario())
    lines = [r.getMessage() for r in caplog.records if "U+FFFD" in r.getMessage()]
    assert len(lines) == 1
    assert "1 in the author's name" in lines[0] and "1 in the text" in lines[0]


def test_a_message_that_cannot_be_forwarded_gets_a_cross_and_is_skipped(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp) as rig:
            chan = rig.channels[0]
            send = rig.bot.link.send_inbound

            async def refuse_poison(session: int, message: ChatMessage) -> None:
                if message.content == "poison":
                    raise ValueError("cannot encode this")
                await send(session, message)

            monkeypatch.setattr(rig.bot.link, "send_inbound", refuse_poison)
            poison = rig.discord.post_user_message(chan, "poison")
            rig.discord.post_user_message(chan, "fine")
            await rig.wait(lambda: [m.content for m in rig.sup.inbound()] == ["fine"])
            notice = await rig.wait_bot_message(
                chan, lambda m: m["content"].startswith("❌"), "the failure notice"
            )
            assert "cannot be forwarded" in notice["content"]
            assert notice["message_reference"]["message_id"] == poison["id"]
            await rig.wait(
                lambda: "❌" in rig.discord.reactions(chan, int(poison["id"])), what="❌"
            )
            assert int(poison["id"]) not in rig.bot.inbound.pending_ack
            assert rig.bot.inbound.dropped.get("cannot be encoded") == 1

    run(scenario())
