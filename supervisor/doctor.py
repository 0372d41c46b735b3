"""`vai doctor`: check the machine and the bridge's files; say how to fix each problem.

Every check returns findings: ok, warn (works, but not as it should) or fail (the bridge
will not work, or is not safe). The bot token is never printed. With a token, doctor
logs in to the configured Discord API (so a Discord-compatible test server works too)
to check the token and the Message Content intent. `--fix` applies the safe fixes:
permissions and stale files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import stat
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import psutil

from vai.common.errors import BridgeError, ConfigError
from vai.protocol.layout import MAX_SOCKET_PATH, Layout
from vai.supervisor.cgroup import MemoryLimiter
from vai.supervisor.child_env import child_environment
from vai.supervisor.config import Config, LimitsSection, load_config, parse_env_file
from vai.supervisor.sessions_file import load_sessions

Level = Literal["ok", "warn", "fail"]
MIN_TMUX = (3, 2)
# Application flags: the Message Content intent, full (verified bots) or limited.
GATEWAY_MESSAGE_CONTENT = 1 << 18
GATEWAY_MESSAGE_CONTENT_LIMITED = 1 << 19
USER_AGENT = "DiscordBot (https://github.com/claude-discord-bridge, 0.1) vai-doctor"


@dataclass
class Finding:
    level: Level
    text: str
    fix: str = ""
    repair: Callable[[], None] | None = field(default=None, repr=False)


def ok(text: str) -> Finding:
    return Finding("ok", text)


def warn(text: str, fix: str = "", repair: Callable[[], None] | None = None) -> Finding:
    return Finding("warn", text, fix, repair)


def fail(text: str, fix: str = "", repair: Callable[[], None] | None = None) -> Finding:
    return Finding("fail", text, fix, repair)


# -- programs ------------------------------------------------------------------------------


def _version_tuple(text: str) -> tuple[int, ...]:
    match = re.search(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else ()


def check_tmux() -> Iterator[Finding]:
    program = shutil.which("tmux")
    if program is None:
        yield fail("tmux is not installed", "install it: apt-get install tmux (3.2 or newer)")
        return
    try:
        done = subprocess.run(
            [program, "-V"], capture_output=True, text=True, timeout=10, check=False
        )
        text = (done.stdout or done.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        yield fail(f"tmux does not run: {exc}", "reinstall tmux")
        return
    version = _version_tuple(text)
    if not version:
        yield warn(f"tmux reports an unknown version: {text!r}")
    elif version < MIN_TMUX:
        yield fail(
            f"{text} is too old (3.2 or newer is needed)",
            "install a newer tmux (Debian 12 has 3.3a)",
        )
    else:
        yield ok(text)


def check_claude(config: Config, environ: dict[str, str]) -> Iterator[Finding]:
    command = config.claude_command
    program = command[0]
    found = shutil.which(program) or (program if Path(program).is_file() else None)
    if found is None:
        explicit = bool(environ.get("VAI_CLAUDE_COMMAND")) or config.file.claude.command != "claude"
        if config.uses_local_discord and not explicit:
            yield warn(
                f"the Claude CLI ({program!r}) is not installed: the local demo uses its stand-in",
                "npm install -g @anthropic-ai/claude-code",
            )
        else:
            yield fail(
                f"the Claude command {program!r} was not found",
                "npm install -g @anthropic-ai/claude-code, or set [claude] command /"
                " VAI_CLAUDE_COMMAND",
            )
        return
    try:
        done = subprocess.run(
            [*command, "--version"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            stdin=subprocess.DEVNULL,
            env=child_environment(environ, config.layout.env_file),
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        yield fail(f"{program} --version failed: {exc}", f"run `{program} --version` by hand")
        return
    first = (done.stdout or done.stderr).strip().splitlines()
    if done.returncode != 0 or not first:
        yield warn(
            f"`{' '.join(command)} --version` exited {done.returncode}",
            f"run `{program} --version` by hand and fix what it says",
        )
    else:
        yield ok(f"Claude CLI {first[0]} ({found})")


# -- the token and Discord -----------------------------------------------------------------


def token_source(config: Config, environ: dict[str, str]) -> str:
    if environ.get("DISCORD_BOT_TOKEN"):
        return "the environment"
    return str(config.layout.env_file)


def _get(url: str, token: str, timeout: float) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, headers={"Authorization": f"Bot {token}", "User-Agent": USER_AGENT}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, None


def check_token(
    config: Config, environ: dict[str, str], online: bool = True, timeout: float = 10.0
) -> Iterator[Finding]:
    token = config.token
    if not token:
        yield warn(
            "no bot token: `vai run` starts the local demo Discord, not a real bot",
            f"put DISCORD_BOT_TOKEN=... in {config.layout.env_file} (mode 0600)",
        )
        return
    where = token_source(config, environ)
    if len(token.split(".")) != 3 or any(c.isspace() for c in token):
        yield warn(
            f"the bot token from {where} does not look like a Discord bot token",
            "copy it again from the developer portal (Bot > Reset Token)",
        )
    if not online:
        yield ok(f"bot token set (in {where}; not checked: --offline)")
        return
    api = config.api_url
    try:
        status, me = _get(f"{api}/users/@me", token, timeout)
    except (OSError, ValueError) as exc:
        yield warn(f"could not reach {api} to check the token: {exc}", "check the network")
        return
    if status == 401:
        yield fail(
            f"Discord refused the bot token from {where} (401)",
            f"reset the token in the developer portal and update {where}",
        )
        return
    if status != 200 or not isinstance(me, dict):
        yield warn(f"{api}/users/@me answered {status}; the token could not be checked")
        return
    name = me.get("username", "?")
    yield ok(f"bot token accepted: logged in as {name} (token from {where}, not shown)")
    try:
        status, app = _get(f"{api}/oauth2/applications/@me", token, timeout)
    except (OSError, ValueError) as exc:
        yield warn(f"could not read the application to check intents: {exc}")
        return
    if status != 200 or not isinstance(app, dict):
        yield warn(f"{api}/oauth2/applications/@me answered {status}; intents not checked")
        return
    flags = int(app.get("flags") or 0)
    if flags & (GATEWAY_MESSAGE_CONTENT | GATEWAY_MESSAGE_CONTENT_LIMITED):
        yield ok("the Message Content intent is enabled")
    else:
        yield fail(
            "the Message Content intent is not enabled: the bot would see empty messages",
            "Discord developer portal > your application > Bot > Privileged Gateway Intents"
            " > Message Content Intent: on",
        )


# -- files and permissions -----------------------------------------------------------------


def _mode(path: Path) -> int | None:
    try:
        return stat.S_IMODE(path.lstat().st_mode)
    except OSError:
        return None


def _chmod(path: Path, mode: int) -> Callable[[], None]:
    return lambda: os.chmod(path, mode)


def _private(path: Path, wanted: int, what: str, strict: bool = True) -> Iterator[Finding]:
    mode = _mode(path)
    if mode is None:
        return
    try:
        owner = path.lstat().st_uid
    except OSError:
        return
    if owner != os.geteuid():
        yield fail(
            f"{what} {path} belongs to uid {owner}, not to you (uid {os.geteuid()})",
            f"chown {os.geteuid()} {path}",
        )
    if mode & 0o077:
        level = fail if strict or mode & 0o022 else warn
        yield level(
            f"{what} {path} is open to others (mode {mode:04o})",
            f"chmod {wanted:o} {path}",
            _chmod(path, wanted),
        )
    else:
        yield ok(f"{what} {path} is private (mode {mode:04o})")


def check_permissions(layout: Layout) -> Iterator[Finding]:
    root = layout.root
    if not root.exists():
        yield warn(f"VAI_HOME {root} does not exist yet", "`vai init` or `vai run` creates it")
        return
    if not root.is_dir():
        yield fail(f"VAI_HOME {root} is not a directory", f"move {root} away")
        return
    yield from _private(root, 0o700, "VAI_HOME", strict=False)
    if not os.access(root, os.W_OK | os.X_OK):
        yield fail(f"VAI_HOME {root} is not writable by you", f"chown -R {os.geteuid()} {root}")
    yield from _private(layout.run_dir, 0o700, "run/")
    yield from _private(layout.env_file, 0o600, ".env")
    yield from _private(layout.sessions_file, 0o600, "sessions.json", strict=False)
    yield from _private(layout.logs_dir, 0o700, "logs/", strict=False)
    attachments = layout.attachments_dir
    if attachments.exists():
        yield from _private(attachments, 0o700, "attachments/")
        for directory in sorted(p for p in attachments.glob("session_*") if p.is_dir()):
            yield from (f for f in _private(directory, 0o700, "attachments") if f.level != "ok")
            open_files = [
                p for p in directory.rglob("*") if p.is_file() and (_mode(p) or 0) & 0o077
            ]
            if open_files:

                def repair(files: list[Path] = open_files) -> None:
                    for path in files:
                        os.chmod(path, 0o600)

                yield warn(
                    f"{len(open_files)} file(s) in {directory} are open to others",
                    f"chmod 600 {directory}/*",
                    repair,
                )


def check_runtime_files(layout: Layout, supervisor_pid: int | None) -> Iterator[Finding]:
    """Stale pid file and sockets: what a supervisor killed with SIGKILL leaves behind."""
    if any(len(str(p)) > MAX_SOCKET_PATH for p in layout.socket_paths()):
        yield fail(
            f"VAI_HOME {layout.home} is too long for Unix socket paths",
            f"use a VAI_HOME under {MAX_SOCKET_PATH - 40} characters",
        )
    if supervisor_pid is not None:
        yield ok(f"the supervisor is running (pid {supervisor_pid})")
    else:
        yield ok("the supervisor is not running")
    if not layout.run_dir.is_dir():
        return
    stale: list[Path] = []
    pid_file = layout.pid_file
    if supervisor_pid is None and pid_file.exists():
        text = pid_file.read_text(errors="replace").strip()
        alive = text.isdigit() and _alive(int(text))
        what = f"pid {text}" if text else "no pid"
        note = " (that pid is now another process)" if alive else " (that process is gone)"
        yield warn(
            f"stale pid file {pid_file}: {what}{note}",
            f"rm {pid_file}",
            lambda: pid_file.unlink(missing_ok=True),
        )
    sockets = [layout.control_socket, layout.bus_socket]
    if supervisor_pid is None:
        stale += [p for p in sockets if p.exists()]
        # A worker outlives its supervisor for a few seconds: only refused sockets are stale.
        stale += [p for p in sorted(layout.run_dir.glob("hook-*.sock")) if not _listening(p)]
    else:
        try:
            sessions = set(load_sessions(layout.sessions_file))
        except ConfigError:
            sessions = set()
        for path in sorted(layout.run_dir.glob("hook-*.sock")):
            number = path.name.removeprefix("hook-").removesuffix(".sock")
            if number.isdigit() and int(number) not in sessions:
                stale.append(path)
    for path in stale:
        yield warn(
            f"stale socket {path} (nothing listens on it)",
            f"rm {path}",
            _remover(path),
        )


def _remover(path: Path) -> Callable[[], None]:
    return lambda: path.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _listening(path: Path) -> bool:
    """Whether something accepts connections on a Unix socket (a refused one is stale)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        try:
            probe.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            return False
        except OSError:
            return True  # not refused: someone may be there
    return True


def check_limits(layout: Layout, limits: LimitsSection) -> Iterator[Finding]:
    plan = MemoryLimiter(layout, limits).choose()
    figures = f"{limits.session_memory_mb} MB per session, {limits.total_memory_mb} MB in total"
    if plan.mode != "off":
        yield ok(f"memory limits ({figures}) enforced with {plan.note}")
    elif limits.enforce == "off":
        yield warn(f"memory limits are not enforced: {plan.note}")
    else:
        yield warn(
            f"memory limits ({figures}) cannot be enforced: {'; '.join(plan.problems)}",
            "run under systemd with deploy/vai.service (Delegate=yes), or with a user"
            ' systemd (loginctl enable-linger), or set [limits] enforce = "off" to accept it',
        )


def check_work_dir(config: Config) -> Iterator[Finding]:
    work = Path(config.claude_work_dir)
    if not work.is_dir():
        yield fail(
            f"Claude's work dir {work} does not exist",
            f"mkdir -p {work}, or set [claude] work_dir",
        )
    elif not os.access(work, os.W_OK | os.X_OK):
        yield fail(
            f"Claude's work dir {work} is not writable by you", f"chown {os.geteuid()} {work}"
        )
    else:
        yield ok(f"Claude's work dir {work}")
    try:
        free = shutil.disk_usage(config.layout.root if config.layout.root.exists() else work).free
    except OSError:
        return
    if free < 200 * 1024 * 1024:
        yield warn(f"only {free // (1024 * 1024)} MB free for VAI_HOME", "free some disk space")


# -- all of it -------------------------------------------------------------------------------


@dataclass
class Report:
    home: Path
    findings: list[tuple[str, Finding]] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(1 for _, f in self.findings if f.level == "fail")

    @property
    def warnings(self) -> int:
        return sum(1 for _, f in self.findings if f.level == "warn")


def run_checks(
    environ: dict[str, str],
    supervisor_pid: Callable[[Layout], int | None],
    online: bool = True,
) -> Report:
    from vai.supervisor.config import home_from_env

    report = Report(home_from_env(environ))

    def add(section: str, findings: Iterator[Finding]) -> None:
        report.findings += [(section, f) for f in findings]

    add("tmux", check_tmux())
    layout = Layout(str(report.home))
    try:
        config: Config | None = load_config(environ)
    except ConfigError as exc:
        config = None
        add("config", iter([fail(str(exc), f"fix {exc.path} (it is left as it is)")]))
    if config is not None:
        problems: list[Finding] = []
        try:
            load_sessions(layout.sessions_file, config.encryption_key)
        except ConfigError as exc:
            problems.append(fail(str(exc), f"fix {exc.path} (it is left as it is)"))
        where = (
            f"{layout.config_file} reads"
            if layout.config_file.exists()
            else f"no {layout.config_file}: the defaults"
        )
        add("config", iter(problems or [ok(f"configuration: {where}")]))
        add("claude", check_claude(config, environ))
        add("token", check_token(config, environ, online))
        add("work dir", check_work_dir(config))
    else:
        try:
            parse_env_file(layout.env_file)
        except BridgeError as exc:
            add("config", iter([fail(str(exc))]))
    add("files", check_permissions(layout))
    add("runtime", check_runtime_files(layout, supervisor_pid(layout)))
    limits = config.file.limits if config is not None else LimitsSection()
    add("limits", check_limits(layout, limits))
    return report


LABELS = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


def render(report: Report, verbose: bool = True) -> str:
    lines = [f"vai doctor: {report.home}"]
    for section, finding in report.findings:
        if finding.level == "ok" and not verbose:
            continue
        lines.append(f"  {LABELS[finding.level]}  {section:<8}  {finding.text}")
        if finding.fix:
            lines.append(f"  {'':4}  {'':<8}  fix: {finding.fix}")
    if report.failures or report.warnings:
        lines.append(f"{report.failures} problem(s), {report.warnings} warning(s)")
        fixable = sum(1 for _, f in report.findings if f.repair is not None and f.level != "ok")
        if fixable:
            lines.append(
                f"`vai doctor --fix` applies {fixable} of the fixes (permissions, stale files)"
            )
    else:
        lines.append("everything looks right")
    return "\n".join(lines)


def repair(report: Report) -> list[str]:
    """Apply the safe fixes (permissions, stale files); what was done."""
    done = []
    for _section, finding in report.findings:
        if finding.repair is not None and finding.level != "ok":
            try:
                finding.repair()
                done.append(f"fixed: {finding.fix}")
            except OSError as exc:
                done.append(f"could not fix ({finding.fix}): {exc}")
    return done
