"""Which real Claude Code CLI the `realclaude` tests drive: the pinned one, or another version.

`VAI_CLAUDE_CODE_VERSION=latest` (or a dist-tag, or a version such as `2.1.332`; pytest's
`--claude-code=...` sets it) makes the tests use that release instead of the one pinned in
tests/claude-code-version, so a change in the CLI shows up in our tests before users meet it.
A tag is resolved to a concrete version with `npm view` once per process; the version is
installed with npm, once, into `.cache/claude-code-<version>` (the pinned one may already be in
`.cache/claude-code`, where .ci/run puts it). An explicit request that cannot be met is an
error, never a silent skip: a CI job for the newest CLI that skipped everything would pass.
"""

from __future__ import annotations

import fcntl
import functools
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache"
PACKAGE = "@anthropic-ai/claude-code"
VERSION_VAR = "VAI_CLAUDE_CODE_VERSION"
EXACT = re.compile(r"\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?")
TAG = re.compile(r"[A-Za-z][0-9A-Za-z.-]*")
NPM_TIMEOUT_S = 600


class VersionUnavailable(RuntimeError):
    """The requested CLI version could not be resolved or installed."""


@dataclass(frozen=True)
class Selection:
    """The version asked for (`requested`, '' for the pin), what it resolved to, the binary."""

    requested: str
    version: str
    binary: Path

    def describe(self) -> str:
        asked = f"{self.requested} → " if self.requested not in ("", self.version) else ""
        origin = "pinned" if not self.requested else f"{VERSION_VAR}={self.requested}"
        return f"{asked}{self.version} ({origin}) at {self.binary}"


def pinned_version() -> str:
    return (REPO / "tests" / "claude-code-version").read_text().strip()


def requested_version() -> str:
    """The version asked for in the environment ('' when none: use the pinned one)."""
    return os.environ.get(VERSION_VAR, "").strip()


def binary_in(prefix: Path) -> Path:
    return prefix / "node_modules" / ".bin" / "claude"


def installed_version(binary: Path) -> str:
    """What `claude --version` says (`2.1.332 (Claude Code)` → `2.1.332`), '' if it cannot run."""
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        return ""
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.split()[0] if out.split() else ""


def npm() -> str:
    found = shutil.which("npm")
    if found is None:
        raise VersionUnavailable(f"{VERSION_VAR} needs npm to install the CLI; npm is not on PATH")
    return found


def resolve(spec: str) -> str:
    """A concrete version for `spec` (`2.1.332` stays as is; `latest` asks the npm registry)."""
    if EXACT.fullmatch(spec):
        return spec
    if not TAG.fullmatch(spec):
        raise VersionUnavailable(f"{VERSION_VAR}={spec!r} is neither a version nor a dist-tag")
    done = subprocess.run(
        [npm(), "view", f"{PACKAGE}@{spec}", "version"],
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT_S,
        check=False,
    )
    lines = done.stdout.split()
    if done.returncode != 0 or not lines or not EXACT.fullmatch(lines[-1]):
        raise VersionUnavailable(
            f"`npm view {PACKAGE}@{spec} version` failed: {done.stderr.strip() or done.stdout}"
        )
    return lines[-1]


def install(version: str) -> Path:
    """The binary of `version`, installed into `.cache/claude-code-<version>` if not there yet.

    npm installs into a side directory renamed into place when done (a run killed halfway
    leaves no half-installed CLI behind), under a lock so two test runs install it once.
    """
    pinned_binary = binary_in(CACHE / "claude-code")
    if version == pinned_version() and installed_version(pinned_binary) == version:
        return pinned_binary
    prefix = CACHE / f"claude-code-{version}"
    binary = binary_in(prefix)
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "claude-code-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if installed_version(binary) == version:
            return binary
        partial = CACHE / f"claude-code-{version}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.rmtree(prefix, ignore_errors=True)
        partial.mkdir()
        command = [npm(), "install", "--prefix", str(partial), "--no-audit", "--no-fund"]
        done = subprocess.run(
            [*command, "--loglevel=error", f"{PACKAGE}@{version}"],
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            shutil.rmtree(partial, ignore_errors=True)
            raise VersionUnavailable(f"npm could not install {PACKAGE}@{version}: {done.stderr}")
        partial.rename(prefix)
    got = installed_version(binary)
    if got != version:
        raise VersionUnavailable(f"{binary} says it is {got or 'nothing'}, not {version}")
    return binary


@functools.cache
def requested_selection() -> Selection | None:
    """The CLI asked for with VAI_CLAUDE_CODE_VERSION, installed; None when none was asked for.
    Raises VersionUnavailable when it was asked for but cannot be had."""
    spec = requested_version()
    if not spec:
        return None
    version = resolve(spec)
    return Selection(spec, version, install(version))
