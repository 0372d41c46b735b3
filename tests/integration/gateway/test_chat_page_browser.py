"""The local Discord's chat page in a real headless Chromium, against a real server.

The server's own controls play the bot (post its messages, register its commands), so each
test looks at one thing the page must do; tests/integration/bridge/test_demo_page.py drives
the whole bridge the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import chromium_page
from vai.gateway.local_discord import LocalDiscord, LocalDiscordThread
from vai.gateway.local_discord.store import JSON

pytestmark = pytest.mark.timeout(90)

COMMANDS: list[JSON] = [
    {
        "name": "interrupt",
        "description": "Interrupt Claude's current turn",
        "options": [{"name": "session", "type": 4, "description": "Session number"}],
    },
    {"name": "status", "description": "Every session's state"},
]


@pytest.fixture
def local() -> Iterator[tuple[LocalDiscordThread, int]]:
    with LocalDiscordThread(rate_limits=False, interaction_timeout=0.5) as ld:
        cid = ld.add_channel("session-1")
        ld.call(lambda s: s.interactions.set_commands(s.guild_id, COMMANDS))
        yield ld, cid


@pytest.fixture
def page(short_tmp: Path, local: tuple[LocalDiscordThread, int]) -> Iterator[Page]:
    ld, _ = local
    with chromium_page(short_tmp) as page:
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(ld.page_url)
        expect(page.locator("nav a", has_text="session-1")).to_be_visible()
        yield page
        assert errors == [], "the page's script failed"


def bot_says(ld: LocalDiscordThread, cid: int, body: JSON) -> JSON:
    return ld.call(lambda s: s.store.create_message(cid, s.store.bot, body))


def messages(ld: LocalDiscordThread, cid: int) -> list[dict[str, Any]]:
    return ld.messages(cid)


def test_the_key_opens_the_page_and_its_address_is_cleaned(
    page: Page, local: tuple[LocalDiscordThread, int]
) -> None:
    ld, _ = local
    assert page.url == ld.base_url + "/"  # the key left the address bar (it is in a cookie)
    page.reload()
    expect(page.locator("nav a", has_text="session-1")).to_be_visible()
    cookies = page.context.cookies()
    assert [(c["httpOnly"], c["sameSite"]) for c in cookies] == [(True, "Strict")]


def test_without_the_key_the_page_is_refused(
    short_tmp: Path, local: tuple[LocalDiscordThread, int]
) -> None:
    ld, cid = local
    with chromium_page(short_tmp) as page:
        response = page.goto(ld.base_url + "/")
        assert response is not None and response.status == 401
        expect(page.locator("body")).to_contain_text("vai run")
        response = page.goto(ld.base_url + "/?key=" + "x" * 32)
        assert response is not None and response.status == 403
    assert messages(ld, cid) == []


def test_enter_sends_shift_enter_breaks_the_line_and_the_name_field_is_harmless(
    page: Page, local: tuple[LocalDiscordThread, int]
) -> None:
    ld, cid = local
    name, box = page.locator("#username"), page.locator("#content")
    name.fill("ann")
    name.press("Enter")  # moves to the message box; sends nothing
    expect(box).to_be_focused()
    box.press("Enter")  # an empty box sends nothing
    box.type("first line")
    box.press("Shift+Enter")
    box.type("second line")
    assert box.input_value() == "first line\nsecond line"
    box.press("Enter")
    expect(box).to_have_value("")
    sent = ld.wait_for(lambda: messages(ld, cid), 5, "the message")
    assert [(m["content"], m["author"]["username"]) for m in sent] == [
        ("first line\nsecond line", "ann")
    ]
    box.fill("with the button")
    page.get_by_role("button", name="Send").click()
    ld.wait_for(lambda: len(messages(ld, cid)) == 2, 5, "the second message")
    shown = page.locator(".msg .p", has_text="first line")
    expect(shown).to_have_text("first line\nsecond line")


def test_markdown_renders_and_no_message_can_inject_markup(
    page: Page, local: tuple[LocalDiscordThread, int]
) -> None:
    ld, cid = local
    text = (
        "**bold** *italic* ~~gone~~ __under__ `x < y` [docs](https://example.com/a)"
        " [bad](javascript:alert(1)) https://example.org/b\n"
        "> quoted\n- one\n- two\n  - nested\n3. third\n"
        "```py\nif a < b:\n    print('<b>')\n```\n"
        '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script>'
        " <b onclick=alert(1)>b</b>"
    )
    bot_says(ld, cid, {"content": text})
    msg = page.locator(".msg").last
    text_box = msg.locator(".text")
    expect(text_box.locator("strong")).to_have_text("bold")
    expect(text_box.locator("em")).to_have_text("italic")
    expect(text_box.locator("s")).to_have_text("gone")
    expect(text_box.locator("u")).to_have_text("under")
    expect(text_box.locator("code.inline")).to_have_text("x < y")
    docs = text_box.get_by_role("link", name="docs")
    expect(docs).to_have_attribute("href", "https://example.com/a")
    expect(docs).to_have_attribute("rel", re.compile(r"\bnoopener\b"))
    expect(text_box.get_by_role("link", name="https://example.org/b")).to_be_visible()
    expect(text_box.get_by_role("link", name="bad")).to_have_count(0)  # not a link
    expect(text_box.locator("blockquote")).to_have_text("quoted")
    expect(text_box.locator("ul > li")).to_have_count(3)  # with the nested one
    expect(text_box.locator("ul ul > li")).to_have_text("nested")
    expect(text_box.locator("ol > li")).to_have_text("third")
    expect(text_box.locator("ol")).to_have_attribute("start", "3")
    code = text_box.locator("pre[data-lang='py'] code")
    expect(code).to_have_text("if a < b:\n    print('<b>')")
    expect(text_box).to_contain_text('<img src=x onerror="window.pwned=1"><script>')
    assert page.locator("#log img, #log script, #log b").count() == 0
    assert page.evaluate("window.pwned") is None


def test_buttons_are_clickable_once_and_then_disabled(
    page: Page, local: tuple[LocalDiscordThread, int]
) -> None:
    ld, cid = local
    row: JSON = {
        "type": 1,
        "components": [
            {"type": 2, "style": 3, "label": "Allow", "custom_id": "vai:c:1:0"},
            {"type": 2, "style": 4, "label": "Deny", "custom_id": "vai:c:1:1"},
            {"type": 2, "style": 5, "label": "Docs", "url": "https://example.com/"},
        ],
    }
    prompt = bot_says(ld, cid, {"content": "Claude asks for permission", "components": [row]})
    allow = page.get_by_role("button", name="Allow")
    expect(page.get_by_role("link", name=re.compile("Docs"))).to_have_attribute(
        "rel", re.compile(r"\bnoopener\b")
    )
    allow.click()
    expect(allow).to_be_disabled()  # at once, while the bot answers

    def clicked() -> list[Any]:
        live = ld.call(lambda s: list(s.interactions.live.values()))
        return [i.data["custom_id"] for i in live if i.type == 3]

    assert ld.wait_for(clicked, 5, "the click") == ["vai:c:1:0"]
    answered = {**row, "components": [{**c, "disabled": True} for c in row["components"]]}
    ld.call(
        lambda s: s.store.edit_message(s.store.by_id[int(prompt["id"])], {"components": [answered]})
    )
    expect(page.get_by_role("button", name="Deny")).to_be_disabled()
    expect(allow).to_be_disabled()


def test_slash_lists_the_bots_commands_and_runs_them_as_interactions(
    page: Page, local: tuple[LocalDiscordThread, int]
) -> None:
    ld, cid = local
    box = page.locator("#content")
    box.type("/")
    listed = page.locator("#commands li.command")
    expect(listed).to_have_count(2)
    expect(listed.first).to_contain_text("/interrupt")
    expect(listed.first).to_contain_text("Interrupt Claude's current turn")
    box.type("st")
    expect(listed).to_have_count(1)
    box.press("Tab")
    expect(box).to_have_value("/status ")
    box.press("Enter")

    def commands_run() -> list[JSON]:
        live = ld.call(lambda s: list(s.interactions.live.values()))
        return [i.data for i in live if i.type == 2]

    assert [d["name"] for d in ld.wait_for(commands_run, 5, "/status")] == ["status"]
    # Nobody answers it here: the page says so, to its user only.
    notice = page.locator(".msg.ephemeral", has_text="The application did not respond")
    expect(notice).to_contain_text("Only you can see this")
    box.fill("/interrupt 2")
    box.press("Enter")
    ld.wait_for(lambda: len(commands_run()) == 2, 5, "/interrupt")
    assert commands_run()[1]["options"] == [{"name": "session", "type": 4, "value": 2}]
    box.fill("/interrupt soon")
    box.press("Enter")
    expect(page.locator("#notice")).to_contain_text("session must be a number")
    expect(box).to_have_value("/interrupt soon")  # kept, to be corrected
    box.fill("/clear")  # not the bot's: a message, for Claude
    box.press("Enter")
    ld.wait_for(lambda: messages(ld, cid), 5, "/clear as a message")
    assert [m["content"] for m in messages(ld, cid)] == ["/clear"]
    assert len(commands_run()) == 2


def test_private_answers_typing_reactions_and_thinking_are_shown(
    page: Page, local: tuple[LocalDiscordThread, int]
) -> None:
    ld, cid = local
    box = page.locator("#content")
    box.fill("/status")
    box.press("Enter")

    def started() -> Any:
        live = ld.call(lambda s: list(s.interactions.live.values()))
        return live[0] if live else None

    inter = ld.wait_for(started, 5, "/status")

    def answer(server: LocalDiscord) -> None:
        server.interactions.callback(inter.id, inter.token, {"type": 5}, [])

    ld.call(answer)
    expect(page.locator(".msg .loading")).to_have_text("Claude Bridge is thinking…")
    ld.call(lambda s: s.interactions.followup(inter, {"content": "**all** fine"}, []))
    done = page.locator(".msg", has_text="all fine")
    expect(done.locator("strong")).to_have_text("all")
    expect(done.locator(".used")).to_have_text("↳ Local User used /status")
    expect(page.locator(".msg .loading")).to_have_count(0)
    user_msg = ld.post_user_message(cid, "hello")
    ld.call(lambda s: s.react_as_user(cid, int(user_msg["id"]), "📥", user=s.store.bot))
    expect(page.locator(".msg", has_text="hello").locator(".reaction")).to_have_text("📥 1")
    ld.call(lambda s: s.store.start_typing(cid, s.store.bot))
    expect(page.locator("#typing")).to_have_text("Claude Bridge is typing…")
    bot_says(ld, cid, {"content": "echo: hello"})
    expect(page.locator("#typing")).to_have_text("")  # its message ends the indicator


def test_threads_are_made_from_a_message_written_in_and_archived(
    page: Page, local: tuple[LocalDiscordThread, int]
) -> None:
    ld, cid = local
    box = page.locator("#content")
    box.fill("a new feature")
    box.press("Enter")
    started = ld.wait_for(lambda: messages(ld, cid), 5, "the message")[0]
    page.locator(".msg", has_text="a new feature").get_by_role("button", name="🧵 Thread").click()

    def thread() -> dict[str, Any]:
        channels = ld.call(lambda s: list(s.store.channels.values()))
        return next((c for c in channels if c.get("parent_id") == str(cid)), {})

    made = ld.wait_for(thread, 5, "the thread")
    assert made["id"] == started["id"] and made["name"] == "a new feature"  # as on Discord
    tid = int(made["id"])
    expect(page.locator("nav a.thread", has_text="a new feature")).to_be_visible()
    expect(page.locator("#channel-name")).to_have_text("🧵 a new feature")  # it opened
    box.fill("inside the thread")
    box.press("Enter")
    ld.wait_for(lambda: messages(ld, tid), 5, "the thread's message")
    assert [m["content"] for m in messages(ld, tid)] == ["inside the thread"]
    assert [m["content"] for m in messages(ld, cid)] == ["a new feature"]
    page.get_by_role("button", name="Archive thread").click()
    ld.wait_for(lambda: thread()["thread_metadata"]["archived"], 5, "the archive")
    expect(page.locator("nav a.thread", has_text="(archived)")).to_be_visible()
    expect(page.get_by_role("button", name="Archive thread")).to_be_hidden()
    page.locator("nav a", has_text="session-1").click()
    expect(page.locator(".msg", has_text="a new feature").locator(".thread-link")).to_be_visible()
    box.fill("back in the channel")  # written in the channel, the thread stays archived
    box.press("Enter")
    ld.wait_for(lambda: len(messages(ld, cid)) == 2, 5, "the channel's message")
    assert thread()["thread_metadata"]["archived"]
