"""A multi-select question (menu + Submit) and "Other…" (a form), with the real discord.py
client against the local Discord server, the same access rule as the buttons."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.gateway.test_gateway_interactions import (
    ALICE,
    EPHEMERAL,
    allow_alice,
    buttons,
    choice,
    the_choice_message,
)
from tests.support.gateway_rig import gateway_rig, run
from vai.gateway.choice_book import TEXT_INPUT_ID
from vai.protocol.messages import ChoiceAnswer

pytestmark = pytest.mark.timeout(60)


def question(chan: int, **kw: Any) -> Any:
    fields: dict[str, Any] = {"request_id": "q-7", "kind": "question", "text": "Which sizes?"}
    fields |= {"options": ["Small", "Medium", "Large"], "multi_select": True, "other": True}
    return choice(chan, **(fields | kw))


def test_several_options_are_picked_in_a_menu_and_submitted(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp, settings=allow_alice()) as rig:
            chan = rig.channels[0]
            alice = rig.discord.make_user("alice", id=ALICE)
            mallory = rig.discord.make_user("mallory")
            await rig.sup.send(question(chan))
            message = await the_choice_message(rig, chan)
            mid = int(message["id"])
            menu, submit, other = buttons(message)
            assert menu["type"] == 3 and menu["max_values"] == 3 and menu["min_values"] == 1
            assert [o["label"] for o in menu["options"]] == ["Small", "Medium", "Large"]
            assert (submit["label"], other["label"]) == ("Submit", "Other…")
            with pytest.raises(ValueError, match="not options"):
                rig.discord.click_button(chan, mid, menu["custom_id"], values=["7"], user=alice)

            refused = rig.discord.click_button(
                chan, mid, menu["custom_id"], values=["0"], user=mallory
            )
            responses = await rig.wait(lambda: rig.discord.interaction_responses(refused))
            assert responses[0]["data"]["flags"] & EPHEMERAL
            assert "not allowed" in responses[0]["data"]["content"]

            early = rig.discord.click_button(chan, mid, submit["custom_id"], user=alice)
            responses = await rig.wait(lambda: rig.discord.interaction_responses(early))
            assert "Pick at least one" in responses[0]["data"]["content"]

            picked = rig.discord.click_button(
                chan, mid, menu["custom_id"], values=["2", "0"], user=alice
            )
            responses = await rig.wait(lambda: rig.discord.interaction_responses(picked))
            assert responses[0]["type"] == 6  # acknowledged; the menu shows the picks
            sent = rig.discord.click_button(chan, mid, submit["custom_id"], user=alice)
            answer = await rig.wait(lambda: rig.sup.of_type(ChoiceAnswer), what="the answer")
            assert answer == [
                ChoiceAnswer(
                    request_id="q-7",
                    session=1,
                    option="Small",
                    user_id=ALICE,
                    user_name="alice",
                    options=["Small", "Large"],
                )
            ]
            assert rig.discord.interaction_responses(sent)[0]["type"] == 7
            edited = rig.discord.message(chan, mid)
            assert "**alice** chose **Small**, **Large**" in edited["content"]
            assert all(c["disabled"] for c in buttons(edited))

    run(scenario())


def test_other_opens_a_form_and_its_text_answers(
    monkeypatch: pytest.MonkeyPatch, short_tmp: Path
) -> None:
    async def scenario() -> None:
        async with gateway_rig(monkeypatch, short_tmp, settings=allow_alice()) as rig:
            chan = rig.channels[0]
            alice = rig.discord.make_user("alice", id=ALICE)
            mallory = rig.discord.make_user("mallory")
            await rig.sup.send(question(chan, multi_select=False, options=["Red", "Blue"]))
            message = await the_choice_message(rig, chan)
            mid = int(message["id"])
            assert [b["label"] for b in buttons(message)] == ["Red", "Blue", "Other…"]
            other = buttons(message)[2]["custom_id"]

            refused = rig.discord.click_button(chan, mid, other, user=mallory)
            responses = await rig.wait(lambda: rig.discord.interaction_responses(refused))
            assert "not allowed" in responses[0]["data"]["content"]
            assert rig.discord.open_modal(refused) is None

            opened = rig.discord.click_button(chan, mid, other, user=alice)
            form = await rig.wait(lambda: rig.discord.open_modal(opened), what="the form")
            assert rig.discord.interaction_responses(opened)[0]["type"] == 9
            assert form is not None and form["title"] == "Answer Claude"
            with pytest.raises(ValueError, match="required"):
                rig.discord.submit_modal(opened, {TEXT_INPUT_ID: ""}, user=alice)
            submitted = rig.discord.submit_modal(opened, {TEXT_INPUT_ID: "purple haze"}, user=alice)
            answer = await rig.wait(lambda: rig.sup.of_type(ChoiceAnswer), what="the answer")
            assert answer == [
                ChoiceAnswer(
                    request_id="q-7",
                    session=1,
                    option="",
                    user_id=ALICE,
                    user_name="alice",
                    text="purple haze",
                )
            ]
            assert rig.discord.interaction_responses(submitted)[0]["type"] == 7
            edited = rig.discord.message(chan, mid)
            assert "**alice** answered “purple haze”" in edited["content"]
            assert all(b["disabled"] for b in buttons(edited))
            with pytest.raises(ValueError, match="no open form"):
                rig.discord.submit_modal(opened, {TEXT_INPUT_ID: "again"}, user=alice)

    run(scenario())
