"""`vai doctor`: check the machine and the bridge's files; say how to fix each problem.

Every check returns findings: ok, warn (works, but not as it should) or fail (the bridge
will not work, or is not safe). The bot token is never printed. With a token, doctor
logs in to the configured Discord API (so a Discord-compatible test server works too)
to check the token and the Message Content intent. `--fix` applies the safe fixes:
permissions and stale files, and (as root) the Claude users vai.toml names.

One module per group of checks (programs, bot_token, files, runtime, machine, claude_user:
who Claude runs as and what it can reach, probed as that user); report.py
runs them in order. A new group is a module with `check_*` functions yielding findings,
added to `run_checks`.
"""

from __future__ import annotations

from vai.supervisor.doctor.findings import Finding, Level, fail, ok, warn
from vai.supervisor.doctor.report import Report, render, repair, run_checks

__all__ = ["Finding", "Level", "Report", "fail", "ok", "render", "repair", "run_checks", "warn"]
