"""A private tmux server per test (`tmux -L <unique name>`)."""

from __future__ import annotations

import subprocess


class TmuxServer:
    """A tmux server on its own socket (`tmux -L name`), killed at teardown."""

    def __init__(self, socket_name: str) -> None:
        self.socket_name = socket_name

    def run(self, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket_name, *args],
            capture_output=True,
            text=True,
            check=False,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"tmux {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def capture(self, target: str) -> str:
        return self.run("capture-pane", "-p", "-t", target)

    def has_session(self, name: str) -> bool:
        return (
            subprocess.run(
                ["tmux", "-L", self.socket_name, "has-session", "-t", f"={name}"],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )

    def kill(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket_name, "kill-server"], capture_output=True, check=False
        )
