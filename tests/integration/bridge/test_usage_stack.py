"""Cost and usage with the whole bridge: the real discord.py gateway against the local
Discord, `vai run`, a worker and the stand-in Claude (which writes token counts in its
transcript the way the real CLI does, and runs the bridge's statusLine command with a cost
and a context window like it). One turn; then its footer, `/usage` (the channel's
session; `scope:all` for admins only), `vai status --usage/--json`, metrics.json and
Prometheus all show the same numbers."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.harness import wait_until
from tests.support.stack import Stack, running_stack
from tests.support.tmux import TmuxServer

pytestmark = pytest.mark.timeout(180)

# The stand-in's counts for the answer "echo: hello" (worker/standin/store.py), and the
# cost and context window its statusLine command gets (worker/standin/status_line.py):
# (3 * 3 + 1200 * 3.75 + 11000 * 0.3 + 9 * 15) / 1e6 = $0.007944; 12203 / 200000 = 6%.
FOOTER = "-# 12.2k in · 9 out · $0.008 · context 6%"
SESSION_1 = "session 1: 1 turn · 12.2k in (11k cached) · 9 out · $0.008 · context 6% now"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def answer_text(stack: Stack, interaction: int, timeout: float = 30) -> str:
    def found() -> str:
        texts = [
            str(r["data"].get("content") or "")
            for r in stack.discord.interaction_responses(interaction)
            if r["kind"] in ("callback", "followup")
        ]
        return "\n".join(t for t in texts if t)

    return stack.discord.wait_for(found, timeout, "the command's answer")


def metrics_usage(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    usage: dict[str, Any] | None = data["sessions"]["1"].get("usage")
    return usage


def test_footer_usage_command_status_and_metrics(short_tmp: Path, tmux_server: TmuxServer) -> None:
    port = free_port()
    with running_stack(short_tmp, tmux_server, channels=2) as (stack, (chan, _other)):
        discord = stack.discord
        admins = discord.add_role("bridge-admins")
        root = discord.make_user("root", roles=[admins])
        ann = discord.make_user("ann")  # allowed, not an admin
        stack.write_config(
            "[claude]\nreport_cost = true\n"
            f"[discord]\nusage_footer = true\nadmin_roles = [{admins}]\n"
            f"allowed_users = [{discord.default_user.id}, {root.id}, {ann.id}]\n"
            f"[monitoring]\ninterval = 0.2\nprometheus_port = {port}\n"
        )
        stack.start()
        stack.wait_all_running()

        discord.post_user_message(chan, "hello")
        answer = discord.wait_for(
            lambda: next(
                (m for m in stack.bot_messages(chan) if "echo: hello" in m["content"]), {}
            ),
            30,
            "the answer",
        )
        assert answer["content"] == f"echo: hello\n{FOOTER}"

        discord.wait_for(
            lambda: "usage" in {c["name"] for c in discord.commands(guild=True)}, 20, "/usage"
        )
        mine = answer_text(stack, discord.invoke_command(chan, "usage", user=ann))
        assert mine == f"📊 {SESSION_1}", mine
        refused = answer_text(
            stack, discord.invoke_command(chan, "usage", {"scope": "all"}, user=ann)
        )
        assert "Only admins" in refused
        every = answer_text(
            stack, discord.invoke_command(chan, "usage", {"scope": "all"}, user=root)
        )
        assert every == f"📊 {SESSION_1}\nsession 2: no turns counted yet", every

        status = stack.vai("status", "--usage")
        assert f"  {SESSION_1}" in status.stdout, status.stdout
        document = json.loads(stack.vai("status", "--json").stdout)
        usage = document["sessions"][0]["usage"]
        assert usage == {
            "turns": 1, "input_tokens": 3, "output_tokens": 9, "cache_read_tokens": 11000,
            "cache_write_tokens": 1200, "context_tokens": 12203, "cost_usd": 0.007944,
            "context_window": 200000,
        }  # fmt: skip

        metrics_file = stack.layout.monitoring_dir / "metrics.json"
        assert wait_until(lambda: metrics_usage(metrics_file), 20, "usage in metrics") == usage
        scrape = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10)
        samples = {
            (s.name, s.labels.get("session"), s.labels.get("kind")): s.value
            for family in text_string_to_metric_families(scrape.read().decode())
            for s in family.samples
        }
        assert samples[("vai_session_tokens_total", "1", "output")] == 9
        assert samples[("vai_session_tokens_total", "1", "cache_read")] == 11000
        assert samples[("vai_session_usage_turns_total", "1", None)] == 1
        assert samples[("vai_session_context_tokens", "1", None)] == 12203
        assert samples[("vai_session_cost_usd_total", "1", None)] == pytest.approx(0.007944)
        assert samples[("vai_session_context_window_tokens", "1", None)] == 200000
