"""A real headless browser for the chat page's tests: Debian's Chromium driven by Playwright.

Playwright's own browser downloads are not used (`playwright install` is never run): it launches
the distribution's Chromium, which `.ci/run` installs. Outside CI a missing Chromium (or
Playwright) skips the test with the reason; under CI=true it fails, so the page is always tested
in CI. Each test gets a fresh profile directory.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 20_000

if TYPE_CHECKING:
    from playwright.sync_api import Page


def chromium_path() -> str | None:
    for candidate in ("chromium", "chromium-browser"):
        found = shutil.which(candidate)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason} (CI must run the browser tests: .ci/run installs Chromium)")
    pytest.skip(f"{reason}: install it (apt-get install chromium) to run the browser tests")


@contextmanager
def chromium_page(profile_parent: Path) -> Iterator[Page]:
    """A page of a fresh headless Chromium; closed (with the browser) afterwards."""
    executable = chromium_path()
    if executable is None:
        _unavailable("Chromium is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright is not installed (pip install -e '.[test]')")
    profile = profile_parent / "chromium-profile"
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            yield page
        finally:
            context.close()
