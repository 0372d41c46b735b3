"""One Claude user per session keeps the sessions apart too; no Claude user at all is
said loudly (`vai status`, `vai doctor`), and even then a pane cannot speak for another.
"""

from __future__ import annotations

import grp
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.integration.security.rig import in_pane, isolated_stack, log_lines, probe, user_line
from tests.support.stack import Stack
from tests.support.tmux import TmuxServer
from tests.support.users import add_user, needs_root, remove_user
from vai.supervisor.isolation import bridge_user

pytestmark = pytest.mark.timeout(240)


def transcripts(home: str) -> Path:
    return Path(home) / ".claude" / "projects"


def answer_starting(stack: Stack, channel: int, start: str) -> str:
    def found() -> str:
        texts = [str(m["content"]) for m in stack.bot_messages(channel)]
        return next((t for t in texts if t.startswith(start)), "")

    return str(stack.discord.wait_for(found, 30, f"an answer starting {start!r}"))


@needs_root
def test_one_user_per_session_keeps_the_sessions_apart(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    group = f"vt{uuid.uuid4().hex[:8]}"
    homes = short_tmp / "homes"
    subprocess.run(["groupadd", "--system", group], check=True)
    try:
        users = [add_user(f"{group}-{n}", homes / f"{group}-{n}", (group,)) for n in (1, 2)]
        homes.chmod(0o711)
        gid = grp.getgrnam(group).gr_gid
        with isolated_stack(short_tmp, tmux_server, f"{group}-{{session}}", gid) as (stack, chans):
            layout = stack.layout
            stack.start()
            stack.wait_all_running()
            for user, channel in zip(users, chans, strict=True):
                assert in_pane(stack, channel, "id -un") == user.name
            stack.discord.post_user_message(
                chans[0], "read this", attachments=[("secret.txt", b"for session one only")]
            )
            answer = answer_starting(stack, chans[0], "echo: read this")
            saved = layout.session_attachments(1) / "secret.txt"
            assert str(saved) in answer
            assert in_pane(stack, chans[0], f"cat {saved}") == "for session one only"

            # Pane 2 reaches none of session 1: its key, folder, files, transcripts, socket.
            session1 = [
                layout.hook_key(1), layout.session_run_dir(1), saved,
                transcripts(users[0].home), layout.session_attachments(1),
            ]  # fmt: skip
            seen = in_pane(stack, chans[1], probe("read", *map(str, session1)))
            assert seen.splitlines() == ["DENIED"] * len(session1), seen
            own = in_pane(stack, chans[1], probe("read", str(layout.hook_key(2))))
            assert own == "READ hook.key"
            key1 = str(layout.hook_key(1))
            forged = in_pane(
                stack, chans[1], probe("forge", str(layout.hook_socket(1)), key1, "Stop", "x")
            )
            assert forged == "NOKEY"
            assert (
                in_pane(stack, chans[1], probe("connect", str(layout.hook_socket(1)))) == "REFUSED"
            )
            said = in_pane(stack, chans[1], "dp 1 from-pane-two 2>&1")
            assert "refused: dp in session 2's pane posts only to its own channel" in said
            assert log_lines(stack, "session_2", "refused dp from the pane to '1'")

            for number, channel in enumerate(chans, start=1):
                stack.discord.post_user_message(channel, f"after {number}")
                stack.wait_bot_message(channel, f"echo: after {number}", timeout=30)
            status = stack.vai("status").stdout
            line = f"isolation: Claude runs as {user_line(users[0])} for session 1;"
            assert f"{line} {user_line(users[1])} for session 2" in status, status
    finally:
        for n in (1, 2):
            remove_user(f"{group}-{n}")
        subprocess.run(["groupdel", group], check=False, capture_output=True)


def test_without_a_claude_user_the_bridge_says_so_and_panes_still_cannot_forge(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    extra = "[supervisor]\nstart_secs = 0.5\n"
    with isolated_stack(short_tmp, tmux_server, "", None, extra_config=extra) as (stack, chans):
        stack.env["IS_SANDBOX"] = "1"  # the stand-in as root takes --dangerously-skip-permissions
        stack.start()
        stack.wait_all_running()
        status = stack.vai("status")
        me = bridge_user()
        assert f"isolation: NONE — Claude runs as {me}, the bridge's own user" in status.stdout
        doctor = stack.vai("doctor", "--offline")
        assert f"warn  user      NO ISOLATION: Claude runs as {me}" in doctor.stdout
        assert "can read the bot token" in doctor.stdout

        # The same user, yet no key means no event, and dp stays in its own channel.
        sock = str(stack.layout.hook_socket(1))
        in_pane(stack, chans[0], probe("forge", sock, "none", "Stop", "FORGED"))
        assert log_lines(stack, "session_1", r"refused a connection .*: no key")
        key2 = str(stack.layout.hook_key(2))
        in_pane(
            stack,
            chans[0],
            probe("forge", str(stack.layout.hook_socket(2)), key2, "Stop", "FORGED"),
        )
        assert log_lines(stack, "session_2", "is not a process of the session's pane")
        said = in_pane(stack, chans[0], "dp 2 elsewhere 2>&1")
        assert "refused: dp in session 1's pane posts only to its own channel" in said
        assert not any("FORGED" in m["content"] for c in chans for m in stack.bot_messages(c))
        stack.discord.post_user_message(chans[1], "two still works")
        stack.wait_bot_message(chans[1], "echo: two still works", timeout=30)
