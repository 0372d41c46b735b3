"""Cost and usage with the whole bridge and the REAL Claude Code CLI (offline, against
tests.support.fake_anthropic answering with chosen token counts): each answer's footer has
that turn's numbers, even when the CLI writes the turn's last line to its transcript after
the Stop hook, with the CLI's own cost and context percentage (from its statusLine JSON,
worker/status_line.py), and the session's totals add up. The operator's own status line
(Claude's HOME settings) is still shown in the pane, and the screen reader still reads the
pane with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.fake_anthropic import FakeAnthropic, ToolCall
from tests.support.real_claude import (
    DEFAULT_API_KEY,
    NOT_FOUND_REASON,
    find_real_claude,
    real_claude_env,
    seed_claude_home,
    stop_all,
    write_claude_wrapper,
)
from tests.support.stack import running_stack
from tests.support.tmux import TmuxServer
from vai.protocol.layout import tmux_session_name

CLAUDE = find_real_claude()
pytestmark = [
    pytest.mark.realclaude,
    pytest.mark.skipif(CLAUDE is None, reason=NOT_FOUND_REASON),
    pytest.mark.timeout(240),
]
USAGE = {
    "input_tokens": 1234,
    "cache_creation_input_tokens": 2000,
    "cache_read_input_tokens": 30000,
    "output_tokens": 77,
}
# 1234 + 2000 + 30000 in; the CLI prices a request with these counts at $0.022476 (its own
# table for the fake's model, tests/fixtures/real_screens/README.md "Usage"), in a window of
# 1M tokens: 33234 is 3%.
ONE_CALL = "-# 33.2k in · 77 out · $0.022 · context 3%"
TWO_CALLS = "-# 66.5k in · 154 out · $0.045 · context 3%"
OPERATOR_LINE = "operator-status-line-ok"


def test_real_cli_turns_carry_their_usage(short_tmp: Path, tmux_server: TmuxServer) -> None:
    home, work = short_tmp / "claude-home", short_tmp / "work"
    theirs = {"statusLine": {"type": "command", "command": f"echo {OPERATOR_LINE}"}}
    seed_claude_home(
        home, work, DEFAULT_API_KEY, default_mode="bypassPermissions",
        skip_dangerous_prompt=True, extra_settings=theirs,
    )  # fmt: skip
    with FakeAnthropic(usage=USAGE) as fake:
        fake.on("run it", ToolCall("Bash", {"command": "echo hi", "description": "say hi"}))
        env = real_claude_env(home, short_tmp / "claude-tmp", fake.base_url)
        wrapper = write_claude_wrapper(short_tmp / "claude", env, CLAUDE)
        try:
            with running_stack(
                short_tmp, tmux_server, channels=1, claude_command=[str(wrapper)]
            ) as (stack, (chan,)):
                stack.write_config("[claude]\nreport_cost = true\n[discord]\nusage_footer = true\n")
                stack.start()
                stack.wait_all_running(timeout=90)
                for prompt, answer in (
                    ("hello", f"echo: hello\n{ONE_CALL}"),
                    ("run it", f"tool said: hi\n{TWO_CALLS}"),
                    ("again", f"echo: again\n{ONE_CALL}"),
                ):
                    stack.discord.post_user_message(chan, prompt)
                    start = answer.split("\n")[0]

                    def posted(start: str = start) -> str:
                        texts = [m["content"] for m in stack.bot_messages(chan)]
                        return next((t for t in texts if t.startswith(start)), "")

                    assert stack.discord.wait_for(posted, 60, f"the answer to {prompt}") == answer
                usage = json.loads(stack.vai("status", "--json").stdout)["sessions"][0]["usage"]
                assert usage["turns"] == 3
                assert usage["input_tokens"] == 4 * 1234
                assert usage["output_tokens"] == 4 * 77
                assert usage["context_tokens"] == 33234
                assert usage["cost_usd"] == pytest.approx(4 * 0.022476)
                assert usage["context_window"] == 1_000_000
                status = stack.vai("status", "--usage").stdout
                assert "$0.090 · context 3% now" in status, status
                pane = tmux_server.capture(tmux_session_name(1))
                assert OPERATOR_LINE in pane, pane
        finally:
            stop_all(tmux_server, short_tmp)
