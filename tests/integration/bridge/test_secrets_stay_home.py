"""No secret of the bridge reaches a process that does not need it.

The supervisor runs with the bot token, ENCRYPTION_KEY, a secret that .env names (as
systemd's EnvironmentFile= would export it) and NOTIFY_SOCKET in its environment; Claude
(a stand-in that dumps its environment first), the tmux server, the workers, the gateway
and `vai doctor`'s `claude --version` probe see none of them in their environment (the
gateway gets the token through its secrets pipe), and the supervisor's own environment
no longer holds them once it has read them (NOTIFY_SOCKET aside: it is systemd's).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.support.harness import standin_command, wait_until
from tests.support.stack import TOKEN, gateway_pid, running_stack, worker_pids
from tests.support.tmux import TmuxServer

pytestmark = pytest.mark.timeout(120)

KEY = Fernet.generate_key().decode()
EXTRA = "vai-test-dotenv-secret-7f3a"
SECRETS = {"ENCRYPTION_KEY": KEY, "VAI_TEST_EXTRA_SECRET": EXTRA}


def environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (entry.decode(errors="replace").partition("=") for entry in raw.split(b"\0") if entry)
    return {name: value for name, _, value in pairs}


def dumped(path: Path) -> dict[str, str]:
    return dict(line.partition("=")[::2] for line in path.read_text().splitlines() if "=" in line)


def leaks(environ: dict[str, str]) -> list[str]:
    names = [*SECRETS, "DISCORD_BOT_TOKEN", "NOTIFY_SOCKET"]
    found = [name for name in names if name in environ]
    found += [f"value of {n}" for n, v in SECRETS.items() if v in environ.values()]
    return found + (["the token's value"] if TOKEN in environ.values() else [])


def test_no_secret_reaches_claude_tmux_workers_or_the_doctor_probe(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    dumps = short_tmp / "dumps"
    dumps.mkdir()
    # Claude's command dumps its environment, then becomes the stand-in.
    claude = ["sh", "-c", f'env > {dumps}/claude.$$; exec "$0" "$@"', *standin_command()]
    extra = {**SECRETS, "NOTIFY_SOCKET": str(short_tmp / "no-systemd-here")}
    with running_stack(
        short_tmp, tmux_server, channels=1, claude_command=claude, extra_env=extra
    ) as (stack, (chan,)):
        stack.layout.env_file.write_text(f"VAI_TEST_EXTRA_SECRET={EXTRA}\n")
        stack.start()
        stack.wait_all_running()
        stack.discord.post_user_message(chan, "hello")
        stack.wait_bot_message(chan, "echo: hello", timeout=30)

        claude_dumps = list(dumps.glob("claude.*"))
        assert claude_dumps and "VAI_SESSION" in dumped(claude_dumps[0])
        for path in claude_dumps:
            assert leaks(dumped(path)) == [], path.name
        panes = tmux_server.run("list-panes", "-a", "-F", "#{pane_pid}").split()
        server = int(tmux_server.run("display-message", "-p", "#{pid}").strip())
        gateway = gateway_pid(stack)
        assert gateway is not None
        # The gateway has the token through its secrets pipe, not its environment; the
        # supervisor was started with every secret and keeps none in its environment.
        assert stack.process is not None
        for pid in [*map(int, panes), server, *worker_pids(stack).values(), gateway]:
            assert leaks(environ_of(pid)) == [], pid
        assert leaks(environ_of(stack.process.pid)) == ["NOTIFY_SOCKET"]

        probe = short_tmp / "dumps" / "doctor-probe"
        wrapper = f'sh -c \'env > {probe}; exec "$0" "$@"\' {shlex.join(standin_command())}'
        stack.env["VAI_CLAUDE_COMMAND"] = wrapper
        stack.vai("doctor", "--offline")
        wait_until(probe.exists, 10, "the doctor's claude --version probe")
        assert leaks(dumped(probe)) == []
