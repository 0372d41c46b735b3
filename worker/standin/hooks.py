"""Settings and hooks, loaded and run the way Claude Code does.

Why: hooks are how the bridge learns what Claude does, so the stand-in must read them from
the same places (user, project and --settings), pass the same JSON on stdin, honour
matchers, and wait for each command, in order, before going on.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
from typing import Any

DEFAULT_TIMEOUT = 60.0

Hook = tuple[str, str, float]
"""(matcher, command, timeout seconds) of one configured hook command."""


class Settings:
    """What the stand-in uses from settings files: hooks per event and the default mode."""

    def __init__(self) -> None:
        self.hooks: dict[str, list[Hook]] = {}
        self.default_mode: str | None = None
        self.skip_dangerous_prompt = False
        self.status_line = ""  # the statusLine command (the last settings file's wins)

    def merge(self, data: object) -> None:
        """Add one settings document; hook lists concatenate like the real CLI's."""
        if not isinstance(data, dict):
            raise ValueError("settings must be a JSON object")
        if data.get("skipDangerousModePermissionPrompt") is True:
            self.skip_dangerous_prompt = True
        permissions = data.get("permissions")
        if isinstance(permissions, dict) and isinstance(permissions.get("defaultMode"), str):
            self.default_mode = permissions["defaultMode"]
        status = data.get("statusLine")
        if isinstance(status, dict) and isinstance(status.get("command"), str):
            self.status_line = status["command"]
        events = data.get("hooks") or {}
        if not isinstance(events, dict):
            raise ValueError("hooks must be an object")
        for event, groups in events.items():
            for group in groups if isinstance(groups, list) else []:
                if isinstance(group, dict):
                    self._add_group(str(event), group)

    def _add_group(self, event: str, group: dict[str, Any]) -> None:
        """Add the command hooks of one {"matcher", "hooks": [...]} group."""
        matcher = group.get("matcher")
        matcher = matcher if isinstance(matcher, str) else ""
        for hook in group.get("hooks") or []:
            if not isinstance(hook, dict) or hook.get("type", "command") != "command":
                continue
            command = hook.get("command")
            if isinstance(command, str) and command:
                timeout = hook.get("timeout")
                seconds = float(timeout) if isinstance(timeout, int | float) else DEFAULT_TIMEOUT
                self.hooks.setdefault(event, []).append((matcher, command, seconds))


def load_settings(arg: str | None, home: str, cwd: str) -> Settings:
    """User settings, then project settings, then --settings (a file or inline JSON).

    Unreadable user/project files are skipped; a bad --settings raises ValueError, as the
    real CLI refuses to start with one.
    """
    settings = Settings()
    for path in (
        os.path.join(home, ".claude", "settings.json"),
        os.path.join(cwd, ".claude", "settings.json"),
        os.path.join(cwd, ".claude", "settings.local.json"),
    ):
        try:
            with open(path, encoding="utf-8") as handle:
                settings.merge(json.load(handle))
        except (OSError, ValueError):
            continue
    if arg is not None:
        try:
            if arg.lstrip().startswith("{"):
                settings.merge(json.loads(arg))
            else:
                with open(arg, encoding="utf-8") as handle:
                    settings.merge(json.load(handle))
        except OSError as exc:
            raise ValueError(f"cannot read settings file {arg}: {exc.strerror}") from exc
    return settings


def matches(matcher: str, value: str | None) -> bool:
    """Empty or "*" matches everything; otherwise a regex that must match the whole value."""
    if not matcher or matcher == "*" or value is None:
        return True
    import re

    try:
        return re.fullmatch(matcher, value) is not None
    except re.error:
        return matcher == value


def run_command(command: str, stdin: bytes, timeout: float, cwd: str, env: dict[str, str]) -> str:
    """Run one hook with sh -c, JSON on stdin, and return its stdout ("" on failure).

    It runs in its own process group so a timeout kills everything it started.
    """
    try:
        proc = subprocess.Popen(
            ["sh", "-c", command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )
    except OSError:
        return ""
    try:
        out, _ = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return ""
    return out.decode("utf-8", "replace")


class HookRunner:
    """Fires events: builds the common payload fields and runs the matching commands."""

    def __init__(self, settings: Settings, cwd: str) -> None:
        self.settings = settings
        self.cwd = cwd
        self.env = dict(os.environ, CLAUDE_PROJECT_DIR=cwd)
        self.session_id = ""
        self.transcript_path = ""
        self.prompt_id = ""  # the turn's, on every event while a turn runs (like the CLI)

    def configured(self, event: str) -> bool:
        """Whether any command is configured for this event."""
        return bool(self.settings.hooks.get(event))

    def fire(
        self,
        event: str,
        fields: dict[str, Any],
        match: str | None = None,
        max_timeout: float | None = None,
    ) -> list[str]:
        """Run the event's hooks one after another and return their outputs."""
        hooks = [h for h in self.settings.hooks.get(event, []) if matches(h[0], match)]
        if not hooks:
            return []
        data = self._payload(event, fields)
        outputs = []
        for _matcher, command, timeout in hooks:
            limit = timeout if max_timeout is None else min(timeout, max_timeout)
            outputs.append(run_command(command, data, limit, self.cwd, self.env))
        return outputs

    def _payload(self, event: str, fields: dict[str, Any]) -> bytes:
        payload = {
            "session_id": self.session_id,
            "transcript_path": self.transcript_path,
            "cwd": self.cwd,
            "hook_event_name": event,
        }
        if self.prompt_id:
            payload["prompt_id"] = self.prompt_id
        payload.update(fields)
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    def start(
        self, event: str, fields: dict[str, Any], match: str | None = None
    ) -> BackgroundHooks:
        """Start the event's hooks without waiting (the CLI shows its permission dialog
        while PermissionRequest hooks run); the main loop reads their output."""
        hooks = [h for h in self.settings.hooks.get(event, []) if matches(h[0], match)]
        return BackgroundHooks(
            [c for _, c, _ in hooks], self._payload(event, fields), self.cwd, self.env
        )


class BackgroundHooks:
    """Hook commands running while the UI goes on; done when every one has exited."""

    def __init__(self, commands: list[str], stdin: bytes, cwd: str, env: dict[str, str]) -> None:
        # [process, its stdout fd (-1 once closed), what it printed]
        self.running: list[tuple[subprocess.Popen[bytes], list[int], bytearray]] = []
        for command in commands:
            try:
                proc = subprocess.Popen(
                    ["sh", "-c", command],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    cwd=cwd,
                    env=env,
                    start_new_session=True,
                )
            except OSError:
                continue
            assert proc.stdin is not None and proc.stdout is not None
            with contextlib.suppress(OSError):
                proc.stdin.write(stdin)
                proc.stdin.close()
            os.set_blocking(proc.stdout.fileno(), False)
            self.running.append((proc, [proc.stdout.fileno()], bytearray()))

    def fds(self) -> list[int]:
        return [fd[0] for _, fd, _ in self.running if fd[0] >= 0]

    def read(self, ready: int) -> None:
        for proc, fd, out in self.running:
            if fd[0] != ready:
                continue
            try:
                data = os.read(ready, 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if data:
                out.extend(data)
                return
            fd[0] = -1
            assert proc.stdout is not None
            proc.stdout.close()
            proc.wait()

    @property
    def done(self) -> bool:
        return all(fd[0] < 0 for _, fd, _ in self.running)

    def results(self) -> list[str]:
        return [bytes(out).decode("utf-8", "replace") for _, _, out in self.running]

    def cancel(self) -> None:
        for proc, fd, _ in self.running:
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            if fd[0] >= 0 and proc.stdout is not None:
                proc.stdout.close()
                fd[0] = -1
            proc.wait()


def decision(outputs: list[str], event: str) -> str | None:
    """Read a hook's allow/deny answer from its JSON output, if it gave one.

    PreToolUse answers with hookSpecificOutput.permissionDecision, PermissionRequest with
    hookSpecificOutput.decision.behavior; the first hook that decides wins.
    """
    for out in outputs:
        try:
            data = json.loads(out)
        except ValueError:
            continue
        specific = data.get("hookSpecificOutput") if isinstance(data, dict) else None
        if not isinstance(specific, dict):
            continue
        if event == "PermissionRequest":
            verdict = specific.get("decision")
            answer = verdict.get("behavior") if isinstance(verdict, dict) else None
        else:
            answer = specific.get("permissionDecision")
        if answer in ("allow", "deny", "ask"):
            return str(answer)
    return None


def _specific(out: str) -> dict[str, Any] | None:
    try:
        data = json.loads(out)
    except ValueError:
        return None
    specific = data.get("hookSpecificOutput") if isinstance(data, dict) else None
    return specific if isinstance(specific, dict) else None


def permission_decision(outputs: list[str]) -> tuple[str | None, str]:
    """PermissionRequest outputs: (allow/deny or None, the deny message)."""
    for out in outputs:
        specific = _specific(out)
        verdict = specific.get("decision") if specific else None
        if isinstance(verdict, dict) and verdict.get("behavior") in ("allow", "deny"):
            return str(verdict["behavior"]), str(verdict.get("message") or "")
    return None, ""


def pre_tool_decision(outputs: list[str]) -> tuple[str | None, Any, str]:
    """PreToolUse outputs: (allow/deny/ask or None, updatedInput, the reason)."""
    for out in outputs:
        specific = _specific(out)
        answer = specific.get("permissionDecision") if specific else None
        if specific and answer in ("allow", "deny", "ask"):
            reason = str(specific.get("permissionDecisionReason") or "")
            return str(answer), specific.get("updatedInput"), reason
    return None, None, ""
