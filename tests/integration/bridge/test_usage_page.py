"""`/usage` from the demo page's command line, in a real browser (Chromium): after one
turn, the command lists this channel's session's tokens."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.browser import chromium_page
from tests.support.demo_bridge import demo_bridge
from tests.support.harness import wait_until
from tests.support.tmux import TmuxServer

pytestmark = pytest.mark.timeout(240)
ANSWER_MS = 30_000


def test_usage_from_the_browser(short_tmp: Path, tmux_server: TmuxServer) -> None:
    with demo_bridge(short_tmp, tmux_server) as bridge, chromium_page(short_tmp) as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(bridge.page_url())
        expect(page.locator("nav a.active")).to_have_text("# session-1", timeout=ANSWER_MS)
        box = page.locator("#content")
        box.fill("hello")
        box.press("Enter")
        answer = page.locator(".msg .text").filter(has_text="echo: hello")
        expect(answer).to_be_visible(timeout=ANSWER_MS)

        listed = page.locator("#commands li.command", has_text="/usage")

        def palette_lists_usage() -> bool:  # the page learns the commands once registered
            box.fill("")
            box.type("/")
            return listed.count() == 1

        wait_until(palette_lists_usage, ANSWER_MS / 1000, "/usage in the command list")
        expect(listed).to_be_visible()
        box.type("usage")
        box.press("Enter")
        expect(box).to_have_value("")
        shown = page.locator(".msg").filter(has_text="session 1: 1 turn")
        expect(shown).to_be_visible(timeout=ANSWER_MS)
        expect(shown).to_contain_text("12.2k in (11k cached)")
        expect(shown.locator(".used")).to_have_text("↳ Local User used /usage")
        assert errors == []
