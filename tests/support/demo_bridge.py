"""`vai run` the way a new user first starts it: no bot token, so the gateway embeds the local
Discord and the supervisor prints the chat page's address; the stand-in plays Claude.

Everything is private to one test (VAI_HOME, tmux socket, a free port). Processes are ended
by pid, never by name.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from tests.support.harness import end_process_tree, standin_command, wait_until
from tests.support.tmux import TmuxServer
from vai.protocol.layout import Layout

# What the supervisor prints once the gateway is up (see supervisor/server.py).
PAGE_LINE = re.compile(r"local Discord: open (http://\S+)")
NOT_INHERITED = ("DISCORD_BOT_TOKEN", "VAI_DISCORD_API_URL", "VAI_DISCORD_GATEWAY_URL", "TMUX")


class DemoBridge:
    def __init__(self, root: Path, tmux: TmuxServer) -> None:
        self.home = root / "vai"
        self.layout = Layout(str(self.home))
        self.tmux = tmux
        self.out = root / "vai-run.out"
        work_dir, claude_home = root / "work", root / "claude-home"
        for directory in (self.home, work_dir, claude_home):
            directory.mkdir(parents=True, exist_ok=True)
        # A free port, so tests can run side by side (the default is 8765). A loaded machine
        # (2 cores, several suites at once) can take over 5 s to start the gateway, which the
        # default liveness (5 missed 1 s heartbeats) counts as hung: allow 15 s here.
        config = "[discord]\nlocal_port = 0\n\n[supervisor]\nheartbeat_interval = 3.0\n"
        self.layout.config_file.write_text(config)
        inherited = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        self.env = inherited | {
            "VAI_HOME": str(self.home),
            "VAI_CLAUDE_COMMAND": shlex.join(standin_command()),
            "VAI_CLAUDE_WORK_DIR": str(work_dir),
            "VAI_TMUX_SOCKET": tmux.socket_name,
            "HOME": str(claude_home),
            "STANDIN_CLAUDE_STARTUP_MS": "0",
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.out, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "vai.supervisor", "run"],
                env=self.env,
                stdout=out,
                stderr=out,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def printed(self) -> str:
        with contextlib.suppress(OSError):
            return self.out.read_text(errors="replace")
        return ""

    def page_url(self, timeout: float = 60) -> str:
        """The chat page's address (it carries the key): only supervisor.log (0600) holds
        it, never a stream that is not a terminal (the journal under systemd)."""
        log = self.layout.process_log("supervisor")

        def found() -> str | None:
            with contextlib.suppress(OSError):
                match = PAGE_LINE.search(log.read_text(errors="replace"))
                return match.group(1) if match else None
            return None

        url = wait_until(found, timeout, "the chat page's address in supervisor.log")
        assert url not in self.printed(), "the key reached `vai run`'s output stream"
        return url

    def output(self) -> str:
        parts = [f"--- vai run\n{self.printed()[-6000:]}"]
        for path in sorted(self.layout.logs_dir.glob("*.log")):
            with contextlib.suppress(OSError):
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}")
        return "\n".join(parts)

    def kill(self) -> None:
        """End the supervisor's process group and every process it started, by pid."""
        end_process_tree(self.process)


@contextlib.contextmanager
def demo_bridge(root: Path, tmux: TmuxServer) -> Iterator[DemoBridge]:
    bridge = DemoBridge(root, tmux)
    try:
        bridge.start()
        yield bridge
    except BaseException:
        print(bridge.output())
        raise
    finally:
        bridge.kill()
