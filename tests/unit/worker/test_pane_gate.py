"""Who may speak on a session's hook socket, and how a pane's Claude is started: pure rules."""

from __future__ import annotations

import os
import shlex

from vai.protocol.specs import PaneUser
from vai.worker.pane_command import pane_command, setpriv_argv
from vai.worker.pane_gate import Gate, Header, Peer, descends_from, parent_of, parse_header

KEY = b"a" * 64
CLAUDE = 1001
PANE = 500
# pid -> parent: the pane (500) runs a shell (510) that runs the hook client (520);
# 600 is another pane's process, 700 one whose parent is gone (reparented to init).
TREE = {520: 510, 510: PANE, PANE: 1, 600: 400, 400: 1, 700: 1}


def parent(pid: int) -> int | None:
    return TREE.get(pid)


def test_headers_are_parsed_and_everything_else_is_named() -> None:
    assert parse_header(b"vai1 hook " + KEY + b"\n") == Header("hook", KEY)
    assert parse_header(b"vai1 post " + KEY + b"\n") == Header("post", KEY)
    assert parse_header(b'{"hook_event_name": "Stop"}') == "no key (a bare hook payload)"
    assert parse_header(b"vai1 hook " + KEY) == "no header line"
    assert parse_header(b"vai2 hook x\n") == "not a vai1 header"
    assert parse_header(b"vai1 hook\n") == "not a vai1 header"
    assert parse_header(b"vai1 exec x\n") == "unknown kind 'exec'"
    assert parse_header(b"") == "no header line"


def test_a_process_descends_from_the_pane_or_not() -> None:
    assert descends_from(520, PANE, parent)
    assert descends_from(PANE, PANE, parent)
    assert not descends_from(600, PANE, parent)
    assert not descends_from(700, PANE, parent)
    assert not descends_from(999, PANE, parent)  # gone
    # A loop in a (hostile or racing) process table ends.
    assert not descends_from(1, PANE, lambda pid: pid)
    assert not descends_from(5, PANE, lambda pid: 5 if pid == 5 else None)


def test_parent_of_reads_proc_even_with_a_strange_command_name() -> None:
    assert parent_of(os.getpid()) == os.getppid()
    assert parent_of(2**22 + 12345) is None


def test_the_gate_lets_in_only_the_sessions_claude() -> None:
    gate = Gate(key=KEY, uid=CLAUDE)
    good = Header("hook", KEY)
    assert gate.refuse_live(Peer(520, CLAUDE, CLAUDE), good, PANE, parent) == ""
    assert gate.refuse_live(Peer(520, CLAUDE, 0), Header("hook", b"b" * 64), PANE, parent) == (
        "wrong key"
    )
    assert gate.refuse_live(Peer(520, 0, 0), good, PANE, parent) == (
        f"uid 0 is not the session's Claude user (uid {CLAUDE})"
    )
    assert gate.refuse_live(Peer(600, CLAUDE, 0), good, PANE, parent) == (
        f"pid 600 is not a process of the session's pane (pid {PANE})"
    )
    assert gate.refuse_live(Peer(520, CLAUDE, 0), good, None, parent) == (
        "the session's pane is not running"
    )
    assert gate.refuse_live(Peer(520, CLAUDE, 0), "no header line", PANE, parent) == (
        "no header line"
    )
    # An empty key (never made) lets nobody in.
    empty = Gate(key=b"", uid=CLAUDE)
    assert empty.refuse_live(Peer(520, CLAUDE, 0), Header("hook", b""), PANE, parent)


def test_spooled_events_need_the_key() -> None:
    gate = Gate(key=KEY, uid=CLAUDE)
    assert gate.refuse_spooled(KEY + b' {"a": 1}') == (b'{"a": 1}', "")
    assert gate.refuse_spooled(b'{"a": 1}') == (b"", "no key (a bare hook payload)")
    assert gate.refuse_spooled(b"c" * 64 + b" {}") == (b"", "wrong key")
    assert gate.refuse_spooled(b"") == (b"", "no key (a bare hook payload)")


USER = PaneUser(name="vai-claude", uid=998, gid=997, home="/var/lib/vai-claude")


def test_the_pane_command_switches_user_drops_privileges_and_sets_its_environment() -> None:
    env = {"HOME": USER.home, "PATH": "/run/bin:/usr/bin"}
    line = pane_command(
        ["claude", "--settings", "/s p/x.json"],
        USER,
        env=env,
        unset=["XDG_RUNTIME_DIR"],
        root=True,
        setpriv="/usr/bin/setpriv",
    )
    assert line.startswith("umask 0007; exec /usr/bin/setpriv ")
    argv = shlex.split(line.split("exec ", 1)[1])
    assert argv[: argv.index("--") + 1] == [
        "/usr/bin/setpriv", "--reuid=998", "--regid=997", "--init-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
    ]  # fmt: skip
    rest = argv[argv.index("--") + 1 :]
    assert rest == [
        "env", "--unset=XDG_RUNTIME_DIR", f"HOME={USER.home}", "PATH=/run/bin:/usr/bin",
        "claude", "--settings", "/s p/x.json",
    ]  # fmt: skip
    # Without root, the bounding set stays (dropping it needs CAP_SETPCAP).
    assert "--bounding-set=-all" not in setpriv_argv(USER, root=False, setpriv="setpriv")


def test_without_a_claude_user_the_pane_runs_claude_itself() -> None:
    assert pane_command(["claude", "-x"], None, env={}, unset=[], root=True) == "exec claude -x"
    line = pane_command(["claude"], None, env={"PATH": "/b:/usr/bin"}, unset=[], root=False)
    assert line == "exec env PATH=/b:/usr/bin claude"
