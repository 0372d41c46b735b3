"""Hostile text from Discord through the whole bridge: nothing wedges, nothing leaks.

A lone surrogate cannot be encoded as UTF-8, so msgpack, SQLite and log files refuse it;
it must be neutralised where it enters (the gateway) and never crash a process.
"""

from __future__ import annotations

import urllib.parse
from pathlib import Path

import pytest

from tests.support.stack import gateway_pid, running_stack, worker_pids
from tests.support.tmux import TmuxServer
from vai.gateway.local_discord import store as local_store
from vai.protocol.ids import MAX_ID
from vai.protocol.messages import AddSession, ErrorReply
from vai.supervisor.control_client import request

pytestmark = pytest.mark.timeout(120)


def test_lone_surrogates_are_replaced_and_the_channel_keeps_working(
    short_tmp: Path, tmux_server: TmuxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The local server puts a file's name in its URL; let it quote a lone surrogate too.
    monkeypatch.setattr(
        local_store,
        "quote",
        lambda text, safe="": urllib.parse.quote(text, safe=safe, errors="surrogatepass"),
    )
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, (chan,)):
        mallory = stack.discord.make_user("mal\udfffory")
        stack.write_config(f"[discord]\nallowed_users = [{mallory.id}]\n")
        stack.start()
        stack.wait_all_running()
        stack.discord.post_user_message(chan, "hello")
        stack.wait_bot_message(chan, "echo: hello", timeout=30)
        pid = gateway_pid(stack)
        assert pid is not None

        stack.discord.post_user_message(chan, "x \udfff")
        stack.wait_bot_message(chan, "echo: x \ufffd", timeout=30)
        stack.discord.post_user_message(chan, "from mallory", author=mallory)
        stack.wait_bot_message(chan, "echo: from mallory", timeout=30)
        stack.discord.post_user_message(
            chan, "a file", attachments=[("bad\udfffname.txt", b"surrogate inside")]
        )
        saved = stack.layout.session_attachments(1).absolute() / "bad\ufffdname.txt"
        stack.wait_bot_message(chan, f"echo: a file\n\nAttached files:\n{saved}", timeout=30)
        assert saved.read_bytes() == b"surrogate inside"

        stack.discord.post_user_message(chan, "still there?")
        stack.wait_bot_message(chan, "echo: still there?", timeout=30)
        assert gateway_pid(stack) == pid
        log = stack.layout.process_log("gateway").read_text(encoding="utf-8")
        assert "U+FFFD" in log


HOSTILE = "\x1b]0;pwned\x07\x1b[2J"
ESCAPED = "\\x1b]0;pwned\\x07\\x1b[2J"


def test_terminal_escapes_reach_no_log_raw(short_tmp: Path, tmux_server: TmuxServer) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, (chan,)):
        intruder = stack.discord.make_user(f"eve{HOSTILE}")  # allowed, with a hostile name
        stack.write_config(f"[discord]\nallowed_users = [{intruder.id}]\n")
        stack.start()
        stack.wait_all_running()
        stack.discord.post_user_message(chan, f"hi {HOSTILE}\nINFO forged line", author=intruder)
        stack.discord.wait_for(
            lambda: any(m["content"].startswith("echo: hi") for m in stack.bot_messages(chan)),
            30,
            "the answer",
        )
        logs = {p.name: p.read_bytes() for p in stack.layout.logs_dir.glob("*.log")}
        assert {"supervisor.log", "gateway.log", "session_1.log"} <= set(logs)
        for name, data in logs.items():
            assert b"\x1b" not in data and b"\x07" not in data, name
            assert not any(line.startswith(b"INFO forged") for line in data.splitlines()), name
        supervisor = logs["supervisor.log"].decode()
        assert f"eve{ESCAPED}: hi {ESCAPED} INFO forged line" in supervisor  # one line


def test_a_channel_id_past_63_bits_is_refused_live_and_nothing_is_half_added(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    with running_stack(short_tmp, tmux_server, channels=1) as (stack, (chan,)):
        stack.start()
        stack.wait_all_running()
        before = stack.layout.sessions_file.read_text()
        for huge in (MAX_ID + 1, 2**64 - 1):  # both fit msgpack; SQLite takes neither
            reply = request(stack.layout, AddSession(channel_id=huge), 30.0)
            assert isinstance(reply, ErrorReply) and "invalid channel id" in reply.text
        cli = stack.vai("add-session", str(2**64))
        assert cli.returncode == 2 and "Traceback" not in cli.stderr
        assert stack.layout.sessions_file.read_text() == before
        assert sorted(worker_pids(stack)) == [1]
        stack.discord.post_user_message(chan, "still fine")
        stack.wait_bot_message(chan, "echo: still fine", timeout=30)
        assert stack.vai("status").returncode == 0
