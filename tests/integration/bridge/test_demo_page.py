"""A new user's first run, in a real browser: `vai run` with no token starts the embedded local
Discord and prints its address; the user opens it, chats with (stand-in) Claude, allows a
command and interrupts a long turn, all from the page. Another local user without the key gets
nothing.
"""

from __future__ import annotations

import re
import stat
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import chromium_page
from tests.support.demo_bridge import demo_bridge
from tests.support.harness import wait_until
from tests.support.tmux import TmuxServer

pytestmark = pytest.mark.timeout(240)
ANSWER_MS = 30_000  # Claude's answers go through the whole bridge


def send(page: Page, text: str) -> None:
    box = page.locator("#content")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")


def test_a_new_user_chats_allows_and_interrupts_from_the_browser(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    with demo_bridge(short_tmp, tmux_server) as bridge, chromium_page(short_tmp) as page:
        url = bridge.page_url()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/\?key=[\w-]{32}", url), url
        base = url.split("/?")[0]
        # The key is written only where the operator alone can read it.
        supervisor_log = bridge.layout.logs_dir / "supervisor.log"
        wait_until(lambda: url in supervisor_log.read_text(), 10, "the address in the log")
        assert stat.S_IMODE(bridge.layout.logs_dir.stat().st_mode) == 0o700
        assert stat.S_IMODE(supervisor_log.stat().st_mode) == 0o600

        # Another local user (curl, no key) gets nothing, and cannot post.
        for path in ("/", "/local/state"):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + path, timeout=10)
            assert refused.value.code == 401
        response = page.goto(base + "/")
        assert response is not None and response.status == 401

        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        assert page.url == base + "/"
        expect(page.locator("nav a.active")).to_have_text("# session-1", timeout=ANSWER_MS)

        # Type, press Enter, see Claude's answer and the bridge's reactions.
        send(page, "hello from the browser")
        answer = page.locator(".msg .text").filter(has_text="echo: hello from the browser")
        expect(answer).to_be_visible(timeout=ANSWER_MS)
        mine = page.locator(".msg").filter(has_text="hello from the browser").first
        expect(mine.locator(".reaction").filter(has_text="✅")).to_be_visible()

        # Markdown renders, in Claude's answers too; a message cannot inject markup.
        send(page, "**bold** and `code` <img src=x onerror=\"document.title='pwned'\">")
        echoed = page.locator(".msg .text").filter(has_text="echo: bold and code")
        expect(echoed.locator("strong")).to_have_text("bold", timeout=ANSWER_MS)
        expect(echoed.locator("code")).to_have_text("code")
        expect(echoed).to_contain_text("<img src=x onerror=")
        send(page, "!long 2500")
        expect(page.locator("pre[data-lang='python']").first).to_be_visible(timeout=ANSWER_MS)
        assert page.locator("#log img").count() == 0 and page.title() == "Local Discord"

        # A permission prompt: press Allow, the buttons close and the command's output comes.
        send(page, "!bash echo allowed-$((40 + 2))")
        allow = page.get_by_role("button", name="Allow")
        expect(allow).to_be_enabled(timeout=ANSWER_MS)
        allow.click()
        expect(allow).to_be_disabled()
        expect(page.get_by_role("button", name="Deny")).to_be_disabled(timeout=ANSWER_MS)
        expect(page.locator(".msg .text").filter(has_text="chose Allow")).to_be_visible()
        output = page.locator(".msg .text").filter(has_text=re.compile(r"^allowed-42$"))
        expect(output).to_be_visible(timeout=ANSWER_MS)

        # A long turn, interrupted with /interrupt from the page (an app command, not a prompt).
        send(page, "!sleep 120")
        long_turn = page.locator(".msg").filter(has_text="!sleep 120")
        expect(long_turn.locator(".reaction").filter(has_text="✅")).to_be_visible(
            timeout=ANSWER_MS
        )
        box = page.locator("#content")
        box.type("/")
        expect(page.locator("#commands li.command", has_text="/interrupt")).to_be_visible()
        box.type("interrupt")
        box.press("Enter")
        expect(box).to_have_value("")
        stopped = page.locator(".msg").filter(has_text="Session 1 interrupted")
        expect(stopped).to_be_visible(timeout=ANSWER_MS)
        expect(stopped.locator(".used")).to_have_text("↳ Local User used /interrupt")
        ended = page.locator(".msg .text").filter(has_text="Interrupted: Claude stopped this turn")
        expect(ended).to_be_visible(timeout=ANSWER_MS)
        expect(page.locator(".msg .loading")).to_have_count(0)  # no empty "thinking" left
        assert not page.locator(".msg .text").filter(has_text="slept 120").count()
        # /interrupt never reached Claude as a prompt.
        assert not page.locator(".msg .text").filter(has_text="echo: /interrupt").count()
        assert errors == []


def test_questions_with_several_answers_or_free_text_from_the_browser(
    short_tmp: Path, tmux_server: TmuxServer
) -> None:
    with demo_bridge(short_tmp, tmux_server) as bridge, chromium_page(short_tmp) as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(bridge.page_url())
        expect(page.locator("nav a.active")).to_have_text("# session-1", timeout=ANSWER_MS)

        # A multi-select question: a menu of tick boxes, then Submit.
        send(page, "!ask+ Which sizes? | Small | Medium | Large")
        asked = page.locator(".msg").filter(has_text="Which sizes?").last
        expect(asked.locator(".menu")).to_be_visible(timeout=ANSWER_MS)
        asked.get_by_label("Small").check()
        asked.get_by_label("Large").check()
        submit = asked.get_by_role("button", name="Submit")
        submit.click()
        expect(submit).to_be_disabled(timeout=ANSWER_MS)
        expect(asked.locator(".text")).to_contain_text("chose Small, Large")
        expect(asked.get_by_label("Medium")).to_be_disabled()
        said = page.locator(".msg .text").filter(has_text='"Which sizes?"="Small, Large"')
        expect(said).to_be_visible(timeout=ANSWER_MS)

        # Other…: a form over the page; its text is the answer.
        send(page, "!ask Which color? | Red | Blue")
        asked = page.locator(".msg").filter(has_text="Which color?").last
        other = asked.get_by_role("button", name="Other…")
        expect(other).to_be_enabled(timeout=ANSWER_MS)
        other.click()
        form = page.get_by_role("dialog", name="Form")
        expect(form).to_be_visible(timeout=ANSWER_MS)
        expect(form).to_contain_text("Answer Claude")
        form.get_by_label("Your answer").fill("purple haze")
        form.get_by_role("button", name="Submit").click()
        expect(form).to_be_hidden(timeout=ANSWER_MS)
        expect(asked.get_by_role("button", name="Red")).to_be_disabled(timeout=ANSWER_MS)
        said = page.locator(".msg .text").filter(has_text='"Which color?"="purple haze"')
        expect(said).to_be_visible(timeout=ANSWER_MS)
        assert errors == []
