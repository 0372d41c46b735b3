"""All the checks in order, the report they make, and `--fix`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vai.common.errors import BridgeError, ConfigError
from vai.protocol.layout import Layout
from vai.supervisor.config import Config, LimitsSection, home_from_env, load_config, parse_env_file
from vai.supervisor.doctor.bot_token import check_token
from vai.supervisor.doctor.claude_user import check_isolation
from vai.supervisor.doctor.files import check_permissions
from vai.supervisor.doctor.findings import Finding, fail, ok
from vai.supervisor.doctor.link import check_link
from vai.supervisor.doctor.machine import check_limits, check_work_dir
from vai.supervisor.doctor.programs import check_claude, check_tmux
from vai.supervisor.doctor.runtime import check_runtime_files
from vai.supervisor.sessions_file import load_sessions


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
        add("work dir", check_work_dir(config, environ, supervisor_pid(layout)))
        add("link", check_link(config, online))
    else:
        try:
            parse_env_file(layout.env_file)
        except BridgeError as exc:
            add("config", iter([fail(str(exc))]))
    isolated = config is not None and config.file.claude.isolated()
    add("files", check_permissions(layout, isolated))
    running = supervisor_pid(layout)
    add("runtime", check_runtime_files(layout, running))
    if config is not None:
        try:
            sessions = sorted(load_sessions(layout.sessions_file, config.encryption_key))
        except ConfigError:
            sessions = []
        add("user", check_isolation(config, sessions, running))
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
