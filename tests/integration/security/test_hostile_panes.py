"""Hostile peers against a bridge whose Claude runs as its own user: a process inside a
pane (a prompt-injected Claude), and a second local user. Every probe is refused, the
refusals are logged, and the bridge keeps answering and loses nothing.

The probes run inside the panes through the stand-in's `!bash` (as Claude's user, in
the pane's process tree); the second user's with setpriv.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.security.rig import in_pane, isolated_stack, log_lines, probe, user_line
from tests.support.harness import wait_until
from tests.support.stack import Stack, gateway_pid
from tests.support.tmux import TmuxServer
from tests.support.users import as_user, local_users, needs_root

pytestmark = [pytest.mark.timeout(240), needs_root]

UNMAPPED = 987654321098765432


def session_log(stack: Stack, session: int) -> str:
    return stack.layout.session_log(session).read_text(errors="replace")


def conversation(stack: Stack, session: int) -> str:
    return str(json.loads(stack.layout.session_state(session).read_text())["conversation_id"])


def test_a_pane_and_a_second_user_reach_nothing_of_the_bridge(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    with local_users(short_tmp / "homes", 2) as (claude, stranger):
        (short_tmp / "homes").chmod(0o711)
        with isolated_stack(short_tmp, tmux_server, claude.name, claude.gid) as (stack, chans):
            layout = stack.layout
            layout.env_file.write_text("VAI_TEST_SECRET=only-the-bridge-knows\n")
            layout.env_file.chmod(0o644)  # a careless operator: VAI_HOME's 0711 must not show it
            stack.start()
            stack.wait_all_running()
            stack.discord.post_user_message(chans[0], "hello")
            stack.wait_bot_message(chans[0], "echo: hello", timeout=30)
            assert in_pane(stack, chans[0], "id -un") == claude.name
            supervisor = stack.process.pid if stack.process else 0
            gateway = gateway_pid(stack)

            # The bridge's secrets, state, logs and processes are out of reach...
            secrets = [
                layout.env_file, layout.config_file, layout.sessions_file, layout.root,
                layout.state_dir, layout.inbox_db, layout.process_log("supervisor"),
                layout.run_dir, f"/proc/{supervisor}/environ", f"/proc/{gateway}/environ",
            ]  # fmt: skip
            seen = in_pane(stack, chans[0], probe("read", *map(str, secrets)))
            assert seen.splitlines() == ["DENIED"] * len(secrets), seen
            # ...and so are the bus, the control socket and the tmux server.
            sockets = [layout.bus_socket, layout.control_socket]
            seen = in_pane(stack, chans[0], probe("connect", *map(str, sockets)))
            assert seen.splitlines() == ["REFUSED", "REFUSED"], seen
            tmux = f"tmux -L {tmux_server.socket_name} ls >/dev/null 2>&1 && echo TMUX || echo NO"
            assert in_pane(stack, chans[0], tmux) == "NO"
            # Its own session's key and attachments folder it may read.
            own = in_pane(stack, chans[0], probe("read", str(layout.hook_key(1))))
            assert own == "READ hook.key"

            # Forged hook events: without the key, with a wrong one, and into session 2's
            # socket with session 2's key (one user for both: readable, but not its pane).
            before = conversation(stack, 1), conversation(stack, 2)
            sock1, sock2 = layout.hook_socket(1), layout.hook_socket(2)
            for key in ("none", "wrong"):
                for event in ("Stop", "SessionStart"):
                    in_pane(stack, chans[0], probe("forge", str(sock1), key, event, "FORGED"))
            key2 = str(layout.hook_key(2))
            in_pane(stack, chans[0], probe("forge", str(sock2), key2, "Stop", "FORGED"))
            in_pane(stack, chans[0], probe("forge", str(sock2), key2, "SessionStart", "-"))
            refused = [line for line in session_log(stack, 1).splitlines() if "refused a" in line]
            assert sum("no key (a bare hook payload)" in line for line in refused) == 2, refused
            assert sum("wrong key" in line for line in refused) == 2, refused
            assert all(f"uid {claude.uid} pid " in line for line in refused)
            other = [line for line in session_log(stack, 2).splitlines() if "refused a" in line]
            assert len(other) == 2 and all(
                "is not a process of the session's pane" in o for o in other
            )
            assert (conversation(stack, 1), conversation(stack, 2)) == before

            # dp in the pane: its own channel only; files as Claude's user reads them.
            for target in ("2", str(chans[1]), str(UNMAPPED)):
                said = in_pane(stack, chans[0], f"dp {target} stolen-post 2>&1")
                assert "refused: dp in session 1's pane posts only to its own channel" in said
            said = in_pane(stack, chans[0], f"dp --file {layout.env_file} 2>&1")
            assert "dp: cannot read" in said and "Permission denied" in said
            in_pane(stack, chans[0], "dp own-post")
            stack.wait_bot_message(chans[0], "own-post")
            note = stack.work_dir / "note.txt"
            in_pane(stack, chans[0], f"echo a note > {note} && dp 1 --file {note}")

            def uploaded() -> bool:
                return any(
                    a["filename"] == "note.txt"
                    for m in stack.bot_messages(chans[0])
                    for a in m["attachments"]
                )

            stack.discord.wait_for(uploaded, 15, "the file dp posted")
            assert len(log_lines(stack, "session_1", "refused dp from the pane")) == 3
            for channel in chans[1:]:
                assert not any("stolen-post" in m["content"] for m in stack.bot_messages(channel))
            assert not any("FORGED" in m["content"] for c in chans for m in stack.bot_messages(c))

            # A second local user (not Claude's) reaches nothing either.
            for path in [*secrets, layout.hook_key(1), layout.session_attachments(1)]:
                denied = as_user(stranger, "/usr/bin/python3", "-c", f"open({str(path)!r}).read(1)")
                assert denied.returncode != 0, path
            stranger_probe = as_user(
                stranger, *probe("connect", str(sock1), *map(str, sockets)).split()
            )
            assert stranger_probe.stdout.split() == ["REFUSED"] * 3

            # The bridge kept working and lost nothing.
            for number, channel in enumerate(chans, start=1):
                stack.discord.post_user_message(channel, f"still here {number}")
                stack.wait_bot_message(channel, f"echo: still here {number}", timeout=30)
            status = stack.vai("status")
            assert status.returncode == 0, status.stdout
            assert f"isolation: Claude runs as {user_line(claude)}" in status.stdout
            doctor = stack.vai("doctor", "--offline")
            assert (
                f"ok    user      Claude runs as {claude.name} (uid {claude.uid})" in doctor.stdout
            )
            wait_until(lambda: stack.vai("status").returncode == 0, 10, "all running")
