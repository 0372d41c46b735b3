"""Buttons for Claude's questions and the application commands, with the same access checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.gateway_rig import Rig, gateway_rig, run
from vai.gateway.local_discord import LocalDiscord, LocalUser
from vai.protocol.messages import (
    AddSession,
    ChoiceAnswer,
    ChoiceRequest,
    ErrorReply,
    InterruptSession,
    ListSessions,
    OkReply,
    RecoverSession,
    SessionInfo,
    SessionsReply,
    StatusReply,
    StatusRequest,
    WireMessage,
)
from vai.protocol.specs import GatewaySettings

pytestmark = pytest.mark.timeout(60)
ALICE = 8001
EPHEMERAL = 1 << 6


def allow_alice(admin_roles: list[int] | None = None) -> Any:
    def settings(server: LocalDiscord) -> GatewaySettings:
        return GatewaySettings(allowed_users=[ALICE], admin_roles=admin_roles or [])

    return settings


def choice(chan: int, **kw: Any) -> ChoiceRequest:
    base: dict[str, Any] = {
        "request_id": "perm-42",
        "session": 1,
        "kind": "permission",
        "text": "Claude wants to run `rm -rf build/`",
        "options": ["Allow", "Deny"],
        "channel_id": chan,
        "timeout_s": 300.0,
    }
    return ChoiceRequest(**(base | kw))


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for row in message.get("components", []) for c in row.get("components", [])]


async def the_choice_message(rig: Rig, chan: int) -> dict[str, Any]:
    return await rig.wait_bot_message(chan, lambda m: bool(m["components"]), "the buttons")


def test_buttons_answer_claude_only_for_allowed_users(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp, settings=allow_alice()) as rig:
            chan = rig.channels[0]
            alice = rig.discord.make_user("alice", id=ALICE)
            mallory = rig.discord.make_user("mallory")
            rig.bot.typing.set(chan, True)
            await rig.sup.send(choice(chan))
            message = await the_choice_message(rig, chan)
            assert "rm -rf build/" in message["content"]
            assert [(b["label"], b["style"]) for b in buttons(message)] == [
                ("Allow", 3),
                ("Deny", 4),
            ]
            assert not rig.bot.typing.active(chan)  # Claude waits for the channel
            allow, deny = (b["custom_id"] for b in buttons(message))
            # Someone not allowed: told privately, nothing reaches Claude.
            refused = rig.discord.click_button(chan, int(message["id"]), allow, user=mallory)
            responses = await rig.wait(lambda: rig.discord.interaction_responses(refused))
            assert responses[0]["type"] == 4
            assert responses[0]["data"]["flags"] & EPHEMERAL
            assert "not allowed" in responses[0]["data"]["content"]
            # Alice may; the message then says who chose what, buttons disabled.
            clicked = rig.discord.click_button(chan, int(message["id"]), deny, user=alice)
            answer = await rig.wait(lambda: rig.sup.of_type(ChoiceAnswer), what="the answer")
            assert answer == [
                ChoiceAnswer(
                    request_id="perm-42", session=1, option="Deny", user_id=ALICE, user_name="alice"
                )
            ]
            responses = rig.discord.interaction_responses(clicked)
            assert responses[0]["type"] == 7  # the message itself is updated
            edited = rig.discord.message(chan, int(message["id"]))
            assert "**alice** chose **Deny**" in edited["content"]
            assert all(b["disabled"] for b in buttons(edited))
            with pytest.raises(ValueError, match="disabled"):
                rig.discord.click_button(chan, int(message["id"]), allow, user=alice)
            # The supervisor re-offers open choices after a restart: no second message.
            await rig.sup.send(choice(chan))
            await rig.sup.send(choice(chan, request_id="q-2", kind="question", options=["A"]))
            await rig.wait(lambda: len(rig.bot_messages(chan)) == 2)
            assert len(rig.sup.of_type(ChoiceAnswer)) == 1

    run(scenario())


def test_unanswered_buttons_expire_cleanly(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp) as rig:
            chan = rig.channels[0]
            await rig.sup.send(choice(chan, request_id="q-1", kind="question", timeout_s=1.0))
            message = await the_choice_message(rig, chan)
            expired = await rig.wait(lambda: rig.sup.of_type(ChoiceAnswer), what="the expiry")
            assert expired == [ChoiceAnswer(request_id="q-1", session=1, option="")]

            def closed() -> bool:
                edited = rig.discord.message(chan, int(message["id"]))
                return "No answer within" in edited["content"] and all(
                    b["disabled"] for b in buttons(edited)
                )

            await rig.wait(closed, what="the message closed")

    run(scenario())


def status_reply() -> StatusReply:
    return StatusReply(
        supervisor_pid=4242,
        uptime_s=3723.0,
        gateway_state="RUNNING",
        gateway_pid=4243,
        sessions=[
            SessionInfo(session=1, channel_id=111, work_dir="/w", state="RUNNING", pid=10),
            SessionInfo(session=2, channel_id=222, work_dir="/w", state="FATAL", detail="boom"),
        ],
        problems=["session 2's channel 222 is not visible"],
    )


def control(request: WireMessage) -> WireMessage:
    match request:
        case StatusRequest():
            return status_reply()
        case ListSessions():
            return SessionsReply(sessions=status_reply().sessions)
        case RecoverSession(session=session):
            return OkReply(text=f"Session {session} restarting", session=session)
        case InterruptSession(session=session):
            return OkReply(text=f"Session {session} interrupted", session=session)
        case AddSession():
            return OkReply(text="Success: Session 2 added", session=2)
        case _:
            return ErrorReply(text="unknown")


async def followups(rig: Rig, interaction: int) -> list[dict[str, Any]]:
    def found() -> list[dict[str, Any]]:
        return [
            r for r in rig.discord.interaction_responses(interaction) if r["kind"] == "followup"
        ]

    return await rig.wait(found, what="the command's answer")


def test_slash_commands_show_the_same_facts_as_vai(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(
            monkeypatch, short_tmp, settings=allow_alice(), control=control
        ) as rig:
            chan = rig.channels[0]
            names = await rig.wait(
                lambda: sorted(c["name"] for c in rig.discord.commands(guild=True)),
                what="the commands registered",
            )
            assert names == [
                "add-session",
                "bind",
                "close",
                "interrupt",
                "new",
                "recover",
                "sessions",
                "status",
                "threads",
                "usage",
            ]
            alice = rig.discord.make_user("alice", id=ALICE)

            status = rig.discord.invoke_command(chan, "status", user=alice)
            answer = await followups(rig, status)
            text = answer[0]["data"]["content"]
            assert "supervisor pid 4242" in text and "FATAL" in text and "boom" in text
            assert "not visible" in text
            callback = rig.discord.interaction_responses(status)[0]
            assert callback["type"] == 5 and callback["data"]["flags"] & EPHEMERAL

            listed = await followups(rig, rig.discord.invoke_command(chan, "sessions", user=alice))
            assert "<#111>" in listed[0]["data"]["content"]

            recover = rig.discord.invoke_command(chan, "recover", user=alice)
            assert "Session 1 restarting" in (await followups(rig, recover))[0]["data"]["content"]
            interrupt = rig.discord.invoke_command(chan, "interrupt", {"session": 2}, user=alice)
            assert (
                "Session 2 interrupted" in (await followups(rig, interrupt))[0]["data"]["content"]
            )
            assert [type(r) for r in rig.control.requests] == [
                StatusRequest,
                ListSessions,
                RecoverSession,
                InterruptSession,
            ]
            assert rig.control.requests[2] == RecoverSession(session=1)  # this channel's
            assert rig.control.requests[3] == InterruptSession(session=2)

            # Registered once: a second sync finds nothing to change.
            puts = len(rig.requests("PUT", "/commands"))
            await rig.bot.slash.sync()
            assert len(rig.requests("PUT", "/commands")) == puts == 1

    run(scenario())


def test_slash_commands_refuse_people_not_allowed(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(
            monkeypatch, short_tmp, settings=allow_alice(), control=control
        ) as rig:
            chan = rig.channels[0]
            await rig.wait(lambda: rig.discord.commands(guild=True))
            mallory = rig.discord.make_user("mallory")
            for name in ("status", "sessions", "recover", "interrupt", "add-session"):
                interaction = rig.discord.invoke_command(chan, name, user=mallory)

                def answered(i: int = interaction) -> list[dict[str, Any]]:
                    return rig.discord.interaction_responses(i)

                responses = await rig.wait(answered)
                assert responses[0]["type"] == 4
                assert responses[0]["data"]["flags"] & EPHEMERAL
                assert "🚫" in responses[0]["data"]["content"]
            assert rig.control.requests == []

    run(scenario())


def test_add_session_is_for_admins(monkeypatch: pytest.MonkeyPatch, short_tmp: Path) -> None:
    roles: list[int] = []

    def settings(server: LocalDiscord) -> GatewaySettings:
        roles.append(server.add_role("bridge-admins"))
        return GatewaySettings(allowed_users=[ALICE], admin_roles=roles)

    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp, settings=settings, control=control) as rig:
            await rig.wait(lambda: rig.discord.commands(guild=True))
            new_channel = rig.discord.add_channel("new-work")
            alice = rig.discord.make_user("alice", id=ALICE)  # allowed, but not an admin
            refused = rig.discord.invoke_command(new_channel, "add-session", user=alice)
            responses = await rig.wait(lambda: rig.discord.interaction_responses(refused))
            assert "Only admins" in responses[0]["data"]["content"]
            root = rig.discord.make_user("root", roles=roles)
            added = rig.discord.invoke_command(new_channel, "add-session", user=root)
            answer = await followups(rig, added)
            assert "Session 2 added" in answer[0]["data"]["content"]
            assert rig.control.requests == [AddSession(channel_id=new_channel)]

    run(scenario())


def test_add_session_says_how_to_configure_an_admin(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    members: list[LocalUser] = []

    def settings(server: LocalDiscord) -> GatewaySettings:
        members.append(server.make_user("bob"))  # allowed, neither an owner nor an admin
        return GatewaySettings(allowed_users=[members[0].id])

    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp, control=control, settings=settings) as rig:
            await rig.wait(lambda: rig.discord.commands(guild=True))
            interaction = rig.discord.invoke_command(
                rig.channels[0], "add-session", user=members[0]
            )
            responses = await rig.wait(lambda: rig.discord.interaction_responses(interaction))
            assert "admin_roles" in responses[0]["data"]["content"]
            assert rig.control.requests == []

    run(scenario())


def test_a_command_when_the_supervisor_does_not_answer(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        def failing(request: WireMessage) -> WireMessage:
            return ErrorReply(text="no session 9")

        async with gateway_rig(monkeypatch, short_tmp, control=failing) as rig:
            await rig.wait(lambda: rig.discord.commands(guild=True))
            interaction = rig.discord.invoke_command(rig.channels[0], "recover", {"session": 9})
            answer = await followups(rig, interaction)
            assert answer[0]["data"]["content"] == "⚠️ no session 9"

    run(scenario())


def test_a_command_that_fails_unexpectedly_still_answers(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    """A deferred command is always followed up: nothing stays "loading" in Discord."""
    from vai.gateway import commands

    def broken(status: StatusReply) -> list[str]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(commands, "render_status_message", broken)

    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp, control=control) as rig:
            await rig.wait(lambda: rig.discord.commands(guild=True))
            interaction = rig.discord.invoke_command(rig.channels[0], "status", {})
            answer = await followups(rig, interaction)
            assert answer[0]["data"]["content"].startswith(
                "⚠️ The bridge could not do this: RuntimeError"
            )

    run(scenario())
