"""What the chat page is told: built from the server's store and interactions, with no server."""

from __future__ import annotations

import time
from typing import Any

from vai.gateway.local_discord.interactions import Interactions
from vai.gateway.local_discord.page_state import NOT_ANSWERED, TYPING_SHOWN_S, PageView
from vai.gateway.local_discord.store import JSON, Store


def make_view() -> tuple[PageView, Store, Interactions, int]:
    store = Store(lambda event, data: None, lambda: None)
    interactions = Interactions(store, callback_timeout=3.0)
    channel = store.add_channel("session-1")
    return PageView(store, interactions), store, interactions, channel


def messages(state: JSON, index: int = 0) -> list[dict[str, Any]]:
    return list(state["channels"][index]["messages"])


def test_channels_threads_and_commands_come_from_the_server() -> None:
    view, store, interactions, channel = make_view()
    thread = store.ids.next()
    store.channels[thread] = {"id": str(thread), "name": "a thread", "type": 11}
    store.channels[thread]["parent_id"] = str(channel)
    store.history[thread] = []
    interactions.set_commands(None, [{"name": "zeta"}, {"name": "status", "description": "g"}])
    guild_commands: list[JSON] = [
        {"name": "status", "description": "guild", "options": [{"name": "s", "type": 4}]},
        {"name": "Pin", "type": 3},  # a message context-menu command: no slash form
    ]
    interactions.set_commands(store.guild_id, guild_commands)
    state, _ = view.build(time.time(), time.monotonic())
    listed = [(c["id"], c["name"], c["type"], c["parent_id"]) for c in state["channels"]]
    assert listed == [
        (str(channel), "session-1", 0, None),
        (str(thread), "a thread", 11, str(channel)),
    ]
    assert [(c["name"], c["description"]) for c in state["commands"]] == [
        ("status", "guild"),
        ("zeta", ""),
    ]
    assert state["commands"][0]["options"][0]["name"] == "s"


def test_typing_shows_for_ten_seconds_and_says_when_it_stops() -> None:
    view, store, _, channel = make_view()
    store.start_typing(channel, store.bot)
    now = time.time()
    state, wake = view.build(now, time.monotonic())
    assert state["channels"][0]["typing"] is True
    assert wake is not None and 0 < wake - now <= TYPING_SHOWN_S
    later, wake = view.build(now + TYPING_SHOWN_S + 1, time.monotonic())
    assert later["channels"][0]["typing"] is False and wake is None
    assert later["version"] != state["version"]
    store.start_typing(channel, store.bot)
    assert view.build(time.time(), time.monotonic())[0]["channels"][0]["typing"] is True
    store.create_message(channel, store.bot, {"content": "the answer"})
    answered, wake = view.build(time.time(), time.monotonic())
    assert answered["channels"][0]["typing"] is False and wake is None  # its message ends it


def test_the_version_changes_only_with_what_is_shown() -> None:
    view, store, _, channel = make_view()
    first, _ = view.build(time.time(), time.monotonic())
    again, _ = view.build(time.time(), time.monotonic())
    assert first["version"] == again["version"]
    store.create_message(channel, store.default_user, {"content": f"hi <#{channel}>"})
    state, _ = view.build(time.time(), time.monotonic())
    assert state["version"] != first["version"]
    assert messages(state)[0]["names"]["channels"] == {str(channel): "session-1"}


def test_private_answers_only_for_interactions_started_on_the_page() -> None:
    view, store, interactions, channel = make_view()
    user = store.default_user
    data = interactions.command_data("status", None)
    mine = interactions.create(channel, 2, data, user, None)
    other = interactions.create(channel, 2, data, user, None)
    view.started(mine.id)
    for inter in (mine, other):
        body = {"type": 4, "data": {"content": f"for {inter.id}", "flags": 64}}
        interactions.callback(inter.id, inter.token, body, [])
    shown = messages(view.build(time.time(), time.monotonic())[0])
    assert [(m["content"], m["ephemeral"]) for m in shown] == [(f"for {mine.id}", True)]
    assert store.history[channel] == []


def test_a_deferred_public_answer_shows_loading_then_the_answer_and_who_used_it() -> None:
    view, store, interactions, channel = make_view()
    inter = interactions.create(
        channel, 2, interactions.command_data("interrupt", None), store.default_user, None
    )
    view.started(inter.id)
    interactions.callback(inter.id, inter.token, {"type": 5}, [])
    (loading,) = messages(view.build(time.time(), time.monotonic())[0])
    assert loading["loading"] and loading["used"] == {"user": "Local User", "command": "interrupt"}
    interactions.followup(inter, {"content": "⏹️ interrupted"}, [])
    (answer,) = messages(view.build(time.time(), time.monotonic())[0])
    assert (answer["id"], answer["content"], answer["loading"]) == (
        loading["id"],
        "⏹️ interrupted",
        False,
    )


def test_an_unanswered_interaction_says_so_after_the_timeout() -> None:
    view, store, interactions, channel = make_view()
    inter = interactions.create(
        channel, 2, interactions.command_data("status", None), store.default_user, None
    )
    view.started(inter.id)
    now, mono = time.time(), time.monotonic()
    state, wake = view.build(now, mono)
    assert messages(state) == [] and wake is not None and 2.5 < wake - now <= 3.0
    state, wake = view.build(now + 4, mono + 4)
    assert [(m["content"], m["ephemeral"]) for m in messages(state)] == [(NOT_ANSWERED, True)]
    assert wake is None  # nothing more will change by itself


def test_the_fingerprint_moves_with_what_is_shown_only() -> None:
    events: list[str] = []
    store = Store(lambda event, data: events.append(event), lambda: None)
    interactions = Interactions(store)
    view = PageView(store, interactions)
    channel = store.add_channel("session-1")

    def mark() -> tuple[object, ...]:
        return view.fingerprint(len(events))  # the server counts emitted events the same way

    start = mark()
    store.on_change()  # what every REST request does: nothing shown changes
    assert mark() == start
    store.create_message(channel, store.default_user, {"content": "hi"})
    after_message = mark()
    assert after_message != start
    interactions.set_commands(store.guild_id, [{"name": "status"}])
    after_commands = mark()
    assert after_commands != after_message
    inter = interactions.create(
        channel, 2, interactions.command_data("status", None), store.default_user, None
    )
    view.started(inter.id)
    started, emitted = mark(), len(events)
    body = {"type": 4, "data": {"content": "only you", "flags": 64}}
    interactions.callback(inter.id, inter.token, body, [])
    assert len(events) == emitted  # an ephemeral answer is no event...
    assert mark() != started  # ...but the page shows it


def test_the_state_is_rebuilt_only_when_the_fingerprint_moves_or_time_says_so() -> None:
    view, store, _, channel = make_view()
    now, mono = time.time(), time.monotonic()
    first, _ = view.current(1, now, mono)
    assert view.current(1, now + 1, mono + 1)[0] is first  # nothing changed: no rebuild
    store.start_typing(channel, store.bot)
    typing, wake = view.current(2, now, mono)
    assert typing is not first and typing["channels"][0]["typing"] is True
    assert wake is not None and view.current(2, wake - 0.01, mono)[0] is typing
    expired, _ = view.current(2, wake, mono)  # the indicator's time is up
    assert expired["channels"][0]["typing"] is False
