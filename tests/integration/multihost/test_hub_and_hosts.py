"""A hub and two hosts in separate network namespaces (real TCP, real CURVE), six sessions
across them (two each on the hub's machine, host a and host b), as issue 15 asks:
- a message to each session is answered once;
- b's agent SIGKILLed and its link cut while messages keep arriving: a keeps answering,
  `vai status` says HOST DOWN for b's sessions, and b's messages are held; link up and
  agent back: b's messages reach its Claudes exactly once, in order;
- a's link alone cut (its agent lives): the same, through the same channel;
- a peer with an unknown key is refused at the handshake (logged);
- a host (a's key) speaking for another host's session (b's) is refused (logged).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import zmq

from tests.support.harness import wait_until
from tests.support.multihost import HUB_PORT, Cluster, log_has, rogue_link, running_cluster
from tests.support.netns import netns_available
from tests.support.tmux import TmuxServer
from vai.protocol.codec import encode
from vai.protocol.host_link import FromWorker, encode_link
from vai.protocol.messages import TurnEnded
from vai.supervisor.hub.keys import read_keypair

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(bool(netns_available()), reason=netns_available() or "ok"),
]

PLACEMENT = {1: "", 2: "", 3: "a", 4: "a", 5: "b", 6: "b"}
HELD = ["held-1", "held-2", "held-3"]


def prompts(cluster: Cluster, session: int) -> list[str]:
    """What the session's Claude was given, in order, from its transcript."""
    host = PLACEMENT[session]
    layout = cluster.hosts[host].layout if host else cluster.hub.layout
    state = json.loads(layout.session_state(session).read_text())
    found = []
    for line in Path(state["transcript_path"]).read_text().splitlines():
        entry = json.loads(line)
        if entry.get("type") == "user" and isinstance(entry["message"]["content"], str):
            found.append(entry["message"]["content"])
    return found


def echoes(cluster: Cluster, session: int) -> list[str]:
    return [m["content"] for m in cluster.hub.bot_messages(cluster.channels[session])]


def status_of(cluster: Cluster, session: int) -> str:
    lines = cluster.hub.vai("status").stdout.splitlines()
    return next((line for line in lines if line.lstrip().startswith(str(session))), "")


def test_hub_and_two_hosts(short_tmp: Path, tmux_server: TmuxServer) -> None:
    with running_cluster(short_tmp, tmux_server, PLACEMENT) as cluster:
        discord, hub = cluster.discord, cluster.hub
        # A message to each session, answered once.
        for session, channel in cluster.channels.items():
            discord.post_user_message(channel, f"hello {session}")
        for session, channel in cluster.channels.items():
            hub.wait_bot_message(channel, f"echo: hello {session}", timeout=30)
        for session in cluster.channels:
            assert echoes(cluster, session) == [f"echo: hello {session}"]

        # b dies and its wire is cut; messages keep coming for a and b.
        b = cluster.hosts["b"]
        b.kill_agent()
        cluster.star.set_link("b", up=False)
        for text in HELD:
            for session in (5, 6):
                discord.post_user_message(cluster.channels[session], text)
            for session in (3, 4):
                discord.post_user_message(cluster.channels[session], f"a {text}")
        for session in (3, 4):
            for text in HELD:
                hub.wait_bot_message(cluster.channels[session], f"echo: a {text}", timeout=30)
        wait_until(
            lambda: all("HOST DOWN" in status_of(cluster, s) for s in (5, 6)), 20, "HOST DOWN"
        )
        assert all(echoes(cluster, s) == [f"echo: hello {s}"] for s in (5, 6))  # held

        # The wire back, the agent back: b's messages once each, in order.
        cluster.star.set_link("b", up=True)
        b.start()
        for session in (5, 6):
            for text in HELD:
                hub.wait_bot_message(cluster.channels[session], f"echo: {text}", timeout=60)
        for session in (5, 6):
            assert prompts(cluster, session) == [f"hello {session}", *HELD]
            counts = Counter(echoes(cluster, session))
            assert all(n == 1 for n in counts.values()), counts
        for session in (3, 4):
            assert prompts(cluster, session) == [f"hello {session}", *(f"a {t}" for t in HELD)]

        # Only a's wire cut (its agent lives on): the same channel resumes once it is back.
        cluster.star.set_link("a", up=False)
        for text in HELD:
            discord.post_user_message(cluster.channels[3], f"cut {text}")
        wait_until(lambda: "HOST DOWN" in status_of(cluster, 3), 20, "a down")
        cluster.star.set_link("a", up=True)
        for text in HELD:
            hub.wait_bot_message(cluster.channels[3], f"echo: cut {text}", timeout=60)
        assert prompts(cluster, 3) == [
            "hello 3",
            *(f"a {t}" for t in HELD),
            *(f"cut {t}" for t in HELD),
        ]
        assert all(n == 1 for n in Counter(echoes(cluster, 3)).values())

        # Strangers and impostors.
        endpoint = f"tcp://{cluster.star.hub_address['outside']}:{HUB_PORT}"
        hub_key = read_keypair(hub.layout.hub_key).public.decode()
        public, secret = (k.decode() for k in zmq.curve_keypair())
        rogue_link(endpoint, hub_key, public, secret, [b"x"])
        supervisor_log = hub.layout.process_log("supervisor")
        wait_until(
            lambda: log_has(supervisor_log, "refused a peer with an unknown key"),
            10,
            "the unknown key refused",
        )
        a_keys = read_keypair(cluster.hosts["a"].layout.host_key)
        forged = TurnEnded(session=5, turn_id="forged", text="forged answer")
        payload = encode_link(FromWorker(session=5, frame=encode(forged)))
        rogue_link(endpoint, hub_key, a_keys.public.decode(), a_keys.secret.decode(), [payload])
        wait_until(
            lambda: log_has(supervisor_log, "host a tried to speak for session 5 (placed on b)"),
            10,
            "a refused for b's session",
        )
        assert "forged answer" not in echoes(cluster, 5)

        # `vai doctor` on a host checks the link with a handshake (no frame sent).
        doctor = cluster.hosts["a"].vai("doctor", in_netns=True)
        assert "the hub at tcp://" in doctor.stdout and "admits this host" in doctor.stdout

        # dp on a host: the file's bytes cross the link (a path would mean nothing on the
        # hub); a host posts only to its own sessions' channels.
        notes = short_tmp / "notes.txt"
        notes.write_bytes(b"from host a")
        a = cluster.hosts["a"]
        sent = subprocess.run(
            [sys.executable, "-m", "vai.supervisor.dp", "3", "hi", "--file", str(notes)],
            env=a.env, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr
        channel = cluster.channels[3]
        discord.wait_for(
            lambda: any(m["attachments"] for m in hub.bot_messages(channel)), 15, "the file"
        )
        attachment = next(m for m in hub.bot_messages(channel) if m["attachments"])
        file = attachment["attachments"][0]
        assert file["filename"] == "notes.txt"
        assert discord.attachment_bytes(channel, int(file["id"])) == b"from host a"
        foreign = subprocess.run(
            [sys.executable, "-m", "vai.supervisor.dp", "5", "not mine"],
            env=a.env, capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        assert foreign.returncode != 0

        # `vai recover` on the hub restarts a remote session's worker on its host.
        recovered = hub.vai("recover", "4")
        assert recovered.returncode == 0 and "restarting on a" in recovered.stdout
        discord.post_user_message(cluster.channels[4], "after recover")
        hub.wait_bot_message(cluster.channels[4], "echo: after recover", timeout=60)

        # An explicit move: b's session 6 to a; the answer says what is carried and lost.
        status = hub.vai("status").stdout
        assert "HOST" in status.splitlines()[1] and "HOST DOWN" not in status
        moved = hub.vai("move", "6", "--to", "a")
        assert moved.returncode == 0, moved.stderr
        assert "Carried:" in moved.stdout and "Lost:" in moved.stdout
        discord.post_user_message(cluster.channels[6], "after the move")
        hub.wait_bot_message(cluster.channels[6], "echo: after the move", timeout=60)
        a_state = cluster.hosts["a"].layout.session_state(6)
        assert a_state.exists()  # it ran on a
        stored = json.loads(hub.layout.sessions_file.read_text())
        assert stored["6"] == {"channel_id": str(cluster.channels[6]), "host": "a"}
