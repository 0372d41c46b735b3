"""Hostile peers against a whole running bridge (`vai run`, a local Discord, stand-in Claude).

A process of the operator's user connects to run/bus.sock with a made-up identity, or as
the gateway or session 1, without CURVE or with keys that are not the supervisor's, and
sends an `Inbound` from a bot. None of it reaches Claude, the supervisor logs each
refusal, and the bridge answers the real messages around it, losing none. Then Discord
users: with no configuration, the application's owner (the local Discord's one user,
from its /oauth2/applications/@me) may talk to Claude and nobody else may, neither by
message nor by command.

Peers with real keys that speak for someone else: test_supervisor_bus.py; keys the gate
never issued or revoked: test_bus_gate.py.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import zmq

from tests.support.harness import wait_until
from tests.support.stack import Stack, running_stack
from tests.support.tmux import TmuxServer
from vai.common.bus_auth import ServerKeys, secure_client
from vai.protocol.codec import encode
from vai.protocol.layout import ipc_endpoint, snowflake_at
from vai.protocol.messages import Author, ChatMessage, Inbound

pytestmark = pytest.mark.timeout(120)
NO_CURVE = ("does not use CURVE", "broke off the handshake")


def log_text(stack: Stack, name: str) -> str:
    path = stack.layout.process_log(name)
    return path.read_text(errors="replace") if path.exists() else ""


def prompts(log: Path) -> list[str]:
    if not log.exists():
        return []
    events = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [e["prompt"] for e in events if e.get("event") == "prompt"]


def test_forged_bus_peers_never_reach_claude_and_the_bridge_keeps_answering(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    standin_log = short_tmp / "standin.log"
    env = {"STANDIN_CLAUDE_LOG": str(standin_log)}
    with running_stack(short_tmp, tmux_server, channels=1, extra_env=env) as (stack, (chan,)):
        stack.start()
        stack.wait_all_running()
        bot = Author(id=4242, name="helpful-bot", bot=True)
        forged = ChatMessage(
            message_id=snowflake_at(time.time()), channel_id=chan, author=bot, content="FORGED"
        )
        stack.discord.post_user_message(chan, "first")
        context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        peers = []
        try:
            for identity, keys in [
                ("intruder-7", None),  # a made-up identity, no CURVE
                ("gateway", None),
                ("session-1", None),
                ("session-1", ServerKeys.new().client_keys("session-1")),  # not our server's
                ("gateway", ServerKeys.new().client_keys("gateway")),
                ("intruder-8", ServerKeys.new().client_keys("intruder-8")),
            ]:
                peer = context.socket(zmq.DEALER)
                peer.setsockopt(zmq.LINGER, 0)
                if keys is None:
                    peer.setsockopt(zmq.IDENTITY, identity.encode())
                else:
                    secure_client(peer, keys)
                peer.connect(ipc_endpoint(stack.layout.bus_socket))
                peer.send(encode(Inbound(seq=1, session=1, message=forged)))
                peers.append(peer)
            # Without CURVE the handshake fails on the mechanism, or the peer hangs up first.
            wait_until(
                lambda: (
                    any(no_curve in log_text(stack, "supervisor") for no_curve in NO_CURVE)
                    and "wrong server key" in log_text(stack, "supervisor")
                ),
                20,
                "the supervisor's refusals",
            )
            stack.wait_bot_message(chan, "echo: first", timeout=30)  # sent during the probes
            stack.discord.post_user_message(chan, "still there?")
            stack.wait_bot_message(chan, "echo: still there?", timeout=30)
        finally:
            for peer in peers:
                peer.close(0)
            context.term()
        assert prompts(standin_log) == ["first", "still there?"]  # nothing lost, nothing forged
        answers = [m["content"] for m in stack.bot_messages(chan)]
        assert answers == ["echo: first", "echo: still there?"]
        refusals = [
            line
            for line in log_text(stack, "supervisor").splitlines()
            if "bus: a peer failed the handshake" in line
        ]
        assert refusals and all("WARNING" in line for line in refusals)
        assert stack.vai("status").returncode == 0  # nothing was disturbed


def test_with_no_configuration_only_the_applications_owner_is_let_in(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, (chan,)):
        stranger = stack.discord.make_user("stranger")
        stack.start()
        stack.wait_all_running()
        refused = stack.discord.post_user_message(chan, "let me in", author=stranger)
        stack.discord.post_user_message(chan, "hello")  # the local Discord's own user
        stack.wait_bot_message(chan, "echo: hello", timeout=30)
        stack.discord.wait_for(
            lambda: "⛔" in stack.discord.reactions(chan, int(refused["id"])), 10, "⛔"
        )
        command = stack.discord.invoke_command(chan, "status", user=stranger)
        answer = stack.discord.wait_for(
            lambda: stack.discord.interaction_responses(command), 10, "the refusal"
        )
        assert "not allowed" in answer[0]["data"]["content"]
        assert [m["content"] for m in stack.bot_messages(chan)] == ["echo: hello"]
        gateway_log = log_text(stack, "gateway")
        owner = stack.discord.default_user.id
        assert f"owners from the application's owner local-user; access: owners {owner}" in (
            gateway_log
        )
        assert f"from user {stranger.id} refused in session 1" in gateway_log
