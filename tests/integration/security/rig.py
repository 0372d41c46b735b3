"""A whole bridge whose Claude (the stand-in) runs as another local user, and a way to run
commands inside its panes: the stand-in's `!bash CMD` runs CMD as Claude's user, in the
pane's process tree, and its output comes back as the answer in the channel."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.harness import STANDIN
from tests.support.stack import Stack, running_stack
from tests.support.tmux import TmuxServer
from vai.protocol.specs import PaneUser

PROBE = Path(__file__).with_name("pane_probe.py")
SYSTEM_PYTHON = "/usr/bin/python3"
_markers = itertools.count(1)


_tools: list[Path] = []  # the copies of the running test (tests run one at a time)


def reachable_tools(short_tmp: Path) -> Path:
    """Copies of the stand-in (stdlib only) and the probe that any user can run, wherever
    the checkout is: a clone inside a 0700 temp dir is out of Claude's users' reach."""
    tools = short_tmp / "tools"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(STANDIN.parent / "standin", tools / "standin", ignore=ignore)
    for script in (STANDIN, PROBE):
        shutil.copy2(script, tools / script.name)
    for path in [tools, *tools.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    _tools[:] = [tools]
    return tools


def claude_command(tools: Path) -> list[str]:
    """The stand-in, runnable by any user, with no permission prompts for `!bash`."""
    return [SYSTEM_PYTHON, str(tools / STANDIN.name), "--dangerously-skip-permissions"]


def probe(*args: str) -> str:
    return shlex.join([SYSTEM_PYTHON, str(_tools[0] / PROBE.name), *args])


def share_tree(short_tmp: Path) -> None:
    """Let other users pass through the test's temp dir (mkdtemp makes it 0700)."""
    short_tmp.chmod(0o711)


def give_work_dir(stack: Stack, group: int) -> None:
    os.chown(stack.work_dir, 0, group)
    stack.work_dir.chmod(0o2770)


@contextlib.contextmanager
def isolated_stack(
    short_tmp: Path,
    tmux: TmuxServer,
    user_setting: str,
    work_group: int | None,
    *,
    channels: int = 2,
    extra_config: str = "",
) -> Iterator[tuple[Stack, list[int]]]:
    share_tree(short_tmp)
    command = claude_command(reachable_tools(short_tmp))
    with running_stack(short_tmp, tmux, channels=channels, claude_command=command) as (
        stack,
        ids,
    ):
        if work_group is not None:
            give_work_dir(stack, work_group)
        # `!bash` runs without a prompt: the stand-in's bypass warning is accepted.
        settings = f"user = {user_setting!r}\naccept_bypass_permissions = true\n"
        stack.write_config(f"[claude]\n{settings}{extra_config}")
        yield stack, ids


def in_pane(stack: Stack, channel: int, command: str, timeout: float = 30) -> str:
    """Run `command` in the channel's pane (as its Claude); what it printed."""
    number = next(_markers)
    marker = f"END-{number}"
    # The marker is computed by the shell: the progress message, which shows the
    # command, never holds it.
    text = f"!bash {command}; printf '\\nEND-%s\\n' $(({number}+0))"
    stack.discord.post_user_message(channel, text)

    def answered() -> dict[str, Any]:
        found = (m for m in stack.bot_messages(channel) if marker in m["content"].splitlines())
        return next(found, {})

    message = stack.discord.wait_for(answered, timeout, f"the pane's answer to {command!r}")
    return str(message["content"]).replace(marker, "").strip()


def log_lines(stack: Stack, name: str, pattern: str) -> list[str]:
    path = stack.layout.process_log(name)
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if re.search(pattern, line)]


def user_line(user: PaneUser) -> str:
    return f"{user.name} (uid {user.uid})"
