"""`[claude] user`: names, templates, per-session overrides, the pane's environment, and the
one line `vai status` shows about it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import msgspec
import pytest

from vai.common.status_view import render_status, status_document
from vai.protocol.layout import Layout
from vai.protocol.messages import StatusReply
from vai.protocol.specs import PaneUser
from vai.supervisor import claude_users, spawn_specs
from vai.supervisor.config import ClaudeSection, FileConfig, load_config, pane_environment
from vai.supervisor.isolation import NONE_MARK, bridge_user, describe

USER = PaneUser(name="vai-claude-2", uid=998, gid=997, home="/var/lib/vai-claude-2")


def claude(**raw: object) -> ClaudeSection:
    return msgspec.convert({"claude": raw}, FileConfig).claude


def test_a_shared_user_a_template_and_per_session_overrides() -> None:
    assert claude().user_for(1) == "" and not claude().isolated()
    shared = claude(user="vai-claude")
    assert [shared.user_for(n) for n in (1, 7)] == ["vai-claude", "vai-claude"]
    template = claude(user="vai-claude-{session}", sessions={"3": {"user": "special"}})
    assert [template.user_for(n) for n in (1, 3, 12)] == [
        "vai-claude-1",
        "special",
        "vai-claude-12",
    ]
    mixed = claude(sessions={"2": {"user": "vai-claude-two"}})
    assert mixed.isolated() and mixed.user_for(1) == "" and mixed.user_for(2) == "vai-claude-two"
    opted_out = claude(user="vai-claude", sessions={"4": {"user": ""}})
    assert opted_out.user_for(4) == ""


@pytest.mark.parametrize(
    "raw",
    [
        {"user": "Root Login"},
        {"user": "a;rm -rf"},
        {"user": "x" * 40},
        {"user": "{session}"},
        {"sessions": {"two": {"user": "a"}}},
        {"sessions": {"2": {"user": "-bad"}}},
    ],
)
def test_a_bad_user_setting_is_refused_at_load(raw: dict[str, object]) -> None:
    with pytest.raises(msgspec.ValidationError):
        claude(**raw)


def test_shared_group_of_a_template() -> None:
    assert claude_users.shared_group("vai-claude-{session}") == "vai-claude"
    assert claude_users.shared_group("claude{session}") == "claude"
    assert claude_users.shared_group("vai-claude") == "vai-claude"


def test_capabilities_are_read_from_proc_status() -> None:
    status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t00000000000000c0\n"
    assert claude_users.effective_capabilities(status) == (1 << 6) | (1 << 7)
    assert claude_users.effective_capabilities("Name:\tx\n") == 0


def test_the_panes_environment() -> None:
    layout = Layout("/srv/vai")
    environ = {
        "PATH": "/root/bin:/usr/bin",
        "HOME": "/root",
        "XDG_RUNTIME_DIR": "/run/user/0",
        "SSH_AUTH_SOCK": "/tmp/agent",
        "ANTHROPIC_BASE_URL": "http://proxy",
    }
    env, unset = pane_environment(environ, layout, 2, USER)
    assert env == {
        "HOME": USER.home,
        "USER": USER.name,
        "LOGNAME": USER.name,
        "SHELL": "/bin/bash",
        "PATH": f"/srv/vai/run/session-2/bin:{USER.home}/.local/bin:/usr/local/bin:/usr/bin:/bin",
    }
    assert unset == ["SSH_AUTH_SOCK", "XDG_RUNTIME_DIR"]  # Claude's own settings stay
    env, unset = pane_environment(environ, layout, 2, None)
    assert env == {"PATH": "/srv/vai/run/session-2/bin:/root/bin:/usr/bin"} and unset == []


def test_who_claude_runs_as_in_one_line() -> None:
    loud = describe(claude(), [1, 2])
    assert loud.startswith(f"{NONE_MARK} — Claude runs as {bridge_user()}, the bridge's own user")
    assert "can read the bot token" in loud
    assert (
        describe(claude(user="vt-nobody-here"), [1, 2]) == "Claude runs as vt-nobody-here (missing)"
    )
    assert describe(claude(user="vt-x-{session}"), []) == "Claude runs as vt-x-N"
    per_session = describe(claude(user="vt-x-{session}", sessions={"3": {"user": ""}}), [1, 3])
    assert per_session.startswith("Claude runs as vt-x-1 (missing) for session 1; NONE")
    many = describe(claude(user="vt-x-{session}"), range(1, 11))
    assert many == "Claude runs as 10 users of its own (vt-x-1 (missing) ... vt-x-10 (missing))"


def test_status_shows_the_isolation_line() -> None:
    reply = StatusReply(
        supervisor_pid=1, uptime_s=1.0, gateway_state="RUNNING", gateway_pid=2, sessions=[],
        isolation="Claude runs as vai-claude (uid 998)",
    )  # fmt: skip
    assert "\nisolation: Claude runs as vai-claude (uid 998)" in render_status(reply)
    assert status_document(reply)["isolation"] == "Claude runs as vai-claude (uid 998)"
    older = msgspec.structs.replace(reply, isolation="")
    assert "isolation" not in render_status(older)


def test_the_gateway_keeps_no_capability_of_a_service_user(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config({"VAI_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    monkeypatch.setattr(os, "geteuid", lambda: 999)
    monkeypatch.setattr(claude_users, "effective_capabilities", lambda: 0xC0)
    argv, _ = spawn_specs.gateway_command(config)
    assert argv[1:4] == ["--inh-caps=-all", "--", sys.executable]
    assert argv[0].endswith("setpriv") and argv[-2:] == ["-m", "vai.gateway"]
    monkeypatch.setattr(claude_users, "effective_capabilities", lambda: 0)
    assert spawn_specs.gateway_command(config)[0] == [sys.executable, "-m", "vai.gateway"]


def test_a_worker_meant_to_be_isolated_never_runs_claude_as_the_bridge(tmp_path: Path) -> None:
    (tmp_path / "vai.toml").write_text('[claude]\nuser = "vt-no-such-user-{session}"\n')
    config = load_config({"VAI_HOME": str(tmp_path)}, cwd=tmp_path)
    user, problem = claude_users.resolve(config.file.claude, 2, create=False)
    assert user is None
    assert problem == (
        "session 2: Claude's user vt-no-such-user-2 ([claude] user) does not exist:"
        " `vai doctor --fix` as root creates it"
    )
    root = claude_users.resolve(claude(user="root"), 1, create=False)
    assert root == (None, "session 1: Claude's user root is root: choose another")
