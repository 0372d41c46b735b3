"""tests/support/claude_versions.py: which real CLI the realclaude tests drive, with a stand-in
`npm` on PATH (a script that logs its calls and installs a `claude` that prints its version),
so resolving and installing are tested without the registry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import claude_versions
from tests.support.claude_versions import VersionUnavailable

FAKE_NPM = """#!/bin/sh
echo "$*" >> "{log}"
[ -e "{fail}" ] && {{ echo "npm error 404" >&2; exit 1; }}
case "$1" in
view) echo "2.1.399" ;;
install)
    prefix="$3"
    for arg in "$@"; do last="$arg"; done
    mkdir -p "$prefix/node_modules/.bin"
    printf '#!/bin/sh\\necho "%s (Claude Code)"\\n' "${{last##*@}}" \\
        > "$prefix/node_modules/.bin/claude"
    chmod +x "$prefix/node_modules/.bin/claude" ;;
esac
"""


class Npm:
    def __init__(self, root: Path) -> None:
        self.log = root / "npm.log"
        self.fail_flag = root / "fail"
        script = root / "bin" / "npm"
        script.parent.mkdir()
        script.write_text(FAKE_NPM.format(log=self.log, fail=self.fail_flag))
        script.chmod(0o755)
        self.bin = script.parent

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def fail(self) -> None:
        self.fail_flag.touch()


@pytest.fixture
def npm(short_tmp: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Npm]:
    fake = Npm(short_tmp)
    monkeypatch.setenv("PATH", f"{fake.bin}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(claude_versions, "CACHE", short_tmp / "cache")
    monkeypatch.delenv(claude_versions.VERSION_VAR, raising=False)
    claude_versions.requested_selection.cache_clear()
    yield fake
    claude_versions.requested_selection.cache_clear()


def test_a_version_needs_no_registry_and_a_tag_asks_it(npm: Npm) -> None:
    assert claude_versions.resolve("2.1.332") == "2.1.332"
    assert npm.calls() == []
    assert claude_versions.resolve("latest") == "2.1.399"
    assert npm.calls() == ["view @anthropic-ai/claude-code@latest version"]
    with pytest.raises(VersionUnavailable, match="neither a version nor a dist-tag"):
        claude_versions.resolve("latest; rm -rf /")
    npm.fail()
    with pytest.raises(VersionUnavailable, match="npm error 404"):
        claude_versions.resolve("next")


def test_a_version_is_installed_once_into_its_own_folder(npm: Npm) -> None:
    binary = claude_versions.install("2.1.332")
    assert binary == claude_versions.CACHE / "claude-code-2.1.332" / "node_modules" / ".bin" / (
        "claude"
    )
    assert claude_versions.installed_version(binary) == "2.1.332"
    assert claude_versions.install("2.1.332") == binary
    assert [call.split()[0] for call in npm.calls()] == ["install"]
    assert not (claude_versions.CACHE / "claude-code-2.1.332.partial").exists()


def test_a_failed_install_is_an_error_and_leaves_nothing_half_done(npm: Npm) -> None:
    npm.fail()
    with pytest.raises(VersionUnavailable, match="could not install"):
        claude_versions.install("2.1.332")
    assert sorted(p.name for p in claude_versions.CACHE.iterdir()) == ["claude-code-install.lock"]


def test_the_pinned_version_already_in_the_ci_folder_is_used_as_it_is(npm: Npm) -> None:
    pinned = claude_versions.pinned_version()
    ci_folder = claude_versions.CACHE / "claude-code"
    claude_versions.install(pinned)  # into .cache/claude-code-<pinned>
    (claude_versions.CACHE / f"claude-code-{pinned}").rename(ci_folder)
    assert claude_versions.install(pinned) == claude_versions.binary_in(ci_folder)
    assert len(npm.calls()) == 1


def test_the_selection_follows_the_environment(npm: Npm, monkeypatch: pytest.MonkeyPatch) -> None:
    assert claude_versions.requested_selection() is None
    claude_versions.requested_selection.cache_clear()
    monkeypatch.setenv(claude_versions.VERSION_VAR, "latest")
    selection = claude_versions.requested_selection()
    assert selection is not None and selection.version == "2.1.399"
    assert claude_versions.installed_version(selection.binary) == "2.1.399"
    assert selection.describe().startswith("latest → 2.1.399 (VAI_CLAUDE_CODE_VERSION=latest)")
