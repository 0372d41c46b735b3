"""Multi-select menus, Submit and "Other…": what a choice shows and what each use means."""

from __future__ import annotations

from typing import Any

from tests.support.clock import FakeClock
from vai.gateway.choice_book import TEXT_INPUT_ID, ChoiceBook, parse_action, parse_modal_id
from vai.gateway.choices import choice_view, other_form, typed_text
from vai.protocol.messages import ChoiceRequest


def request(**kw: Any) -> ChoiceRequest:
    base: dict[str, Any] = {
        "request_id": "q-1",
        "session": 4,
        "kind": "question",
        "text": "Which sizes?",
        "options": ["Small", "Medium", "Large"],
        "channel_id": 20,
        "timeout_s": 60.0,
        "multi_select": True,
        "other": True,
    }
    return ChoiceRequest(**(base | kw))


def test_a_multi_select_choice_shows_a_menu_submit_and_other() -> None:
    book = ChoiceBook(FakeClock(0.0))
    choice, _ = book.offer(request())
    menu = ChoiceBook.menu(choice)
    assert menu is not None and menu.labels == ("Small", "Medium", "Large")
    assert menu.max_values == 3 and not menu.disabled
    assert [(b.label, b.style) for b in ChoiceBook.buttons(choice)] == [
        ("Submit", "success"),
        ("Other…", "secondary"),
    ]
    view = choice_view(choice)
    assert view is not None
    rows = view.to_components()
    select = rows[0]["components"][0]
    assert select["type"] == 3 and select["min_values"] == 1 and select["max_values"] == 3
    assert [o["value"] for o in select["options"]] == ["0", "1", "2"]
    assert [c["label"] for c in rows[1]["components"]] == ["Submit", "Other…"]


def test_picks_are_kept_per_user_until_submit() -> None:
    book = ChoiceBook(FakeClock(0.0))
    choice, _ = book.offer(request())
    pick, (send, other) = ChoiceBook.menu(choice), ChoiceBook.buttons(choice)
    assert pick is not None
    assert book.click(send.custom_id, allowed=True, user_name="a", user_id=1).kind == (
        "nothing_picked"
    )
    picked = book.click(
        pick.custom_id, allowed=True, user_name="a", user_id=1, values=["2", "0", "9", "x"]
    )
    assert picked.kind == "picked" and choice.picks[1] == ["Small", "Large"]
    assert book.click(pick.custom_id, allowed=False, user_name="m", user_id=2).kind == (
        "not_allowed"
    )
    assert book.click(send.custom_id, allowed=True, user_name="b", user_id=3).kind == (
        "nothing_picked"
    )  # b picked nothing: a's picks are a's
    sent = book.click(send.custom_id, allowed=True, user_name="a", user_id=1)
    assert sent.kind == "answered" and sent.options == ("Small", "Large")
    assert "✅ **a** chose **Small**, **Large**" in ChoiceBook.content(choice)
    assert all(b.disabled for b in ChoiceBook.buttons(choice))
    closed_menu = ChoiceBook.menu(choice)
    assert closed_menu is not None and closed_menu.disabled
    assert book.click(other.custom_id, allowed=True, user_name="a", user_id=1).kind == "closed"


def test_other_opens_a_form_whose_text_answers() -> None:
    clock = FakeClock(0.0)
    book = ChoiceBook(clock)
    choice, _ = book.offer(request(multi_select=False, options=["Red", "Blue"]))
    assert ChoiceBook.menu(choice) is None
    labels = [b.label for b in ChoiceBook.buttons(choice)]
    assert labels == ["Red", "Blue", "Other…"]
    other = ChoiceBook.buttons(choice)[-1]
    assert parse_action(other.custom_id) == (choice.token, "other")
    assert book.click(other.custom_id, allowed=True, user_name="a").kind == "other"
    form = other_form(choice, 30.0)
    assert parse_modal_id(form.custom_id) == choice.token
    field = form.to_components()[0]["components"][0]
    assert field["custom_id"] == TEXT_INPUT_ID and field["type"] == 4

    form_id = f"vai:m:{choice.token}"
    assert book.typed(form_id, "  ", allowed=True, user_name="a").kind == "nothing_picked"
    assert book.typed(form_id, "x", allowed=False, user_name="m").kind == "not_allowed"
    answered = book.typed(form_id, "purple `haze`\nplease", allowed=True, user_name="a")
    assert answered.kind == "answered" and answered.text == "purple `haze`\nplease"
    assert answered.option == "" and answered.options == ()
    assert "“purple 'haze' please”" in ChoiceBook.content(choice)
    assert book.typed(form_id, "again", allowed=True, user_name="a").kind == "closed"


def test_without_other_there_is_no_other_button_and_no_form() -> None:
    book = ChoiceBook(FakeClock(0.0))
    choice, _ = book.offer(request(multi_select=False, other=False, options=["Allow", "Deny"]))
    assert [b.label for b in ChoiceBook.buttons(choice)] == ["Allow", "Deny"]
    token = choice.token
    assert book.click(f"vai:c:{token}:other", allowed=True, user_name="a").kind == "unknown"
    assert book.click(f"vai:c:{token}:pick", allowed=True, user_name="a").kind == "unknown"
    assert book.typed(f"vai:m:{token}", "hi", allowed=True, user_name="a").kind == "unknown"
    # A single choice with Other keeps to 25 components: 24 options and Other….
    many, _ = book.offer(
        request(request_id="q-2", multi_select=False, options=list("abcdefghijklmnopqrstuvwxyz"))
    )
    assert len(ChoiceBook.buttons(many)) == 25 and ChoiceBook.buttons(many)[-1].label == "Other…"
    view = choice_view(many)
    assert view is not None and len(view.to_components()) == 5


def test_typed_text_is_read_from_a_modal_submission() -> None:
    field = {"type": 4, "custom_id": TEXT_INPUT_ID, "value": "hi"}
    data = {"custom_id": "vai:m:x", "components": [{"type": 1, "components": [field]}]}
    assert typed_text(data) == "hi"
    assert typed_text({"components": []}) == ""
