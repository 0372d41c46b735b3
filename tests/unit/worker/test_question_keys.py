"""The keys that answer a question screen, planned on the real CLI's screens."""

from __future__ import annotations

import pytest

from tests.support.real_screens import ScreenSet, screen_sets
from vai.worker.question_keys import answer_keys, is_multi_select, labels


@pytest.fixture(params=screen_sets(), ids=lambda screens: screens.version)
def real(request: pytest.FixtureRequest) -> ScreenSet:
    screens: ScreenSet = request.param
    return screens


def test_a_single_choice_is_one_digit_or_typed_text(real: ScreenSet) -> None:
    screen = real("question_single")
    assert labels(screen) == ["Red", "Blue"] and not is_multi_select(screen)
    assert answer_keys(screen, ["Blue"], "") == [("key", "2")]
    assert answer_keys(screen, [], "purple haze") == [
        ("key", "3"),
        ("paste", "purple haze"),
        ("key", "Enter"),
    ]
    assert answer_keys(screen, ["Green"], "") is None
    assert answer_keys(screen, ["Red", "Blue"], "") is None


def test_a_multi_select_question_ticks_then_submits_and_confirms(real: ScreenSet) -> None:
    screen = real("question_multiselect")  # [ ] Small, [ ] Large, [ ] Type something
    assert labels(screen) == ["Small", "Large"] and is_multi_select(screen)
    submit = [("key", "Enter"), ("key", "Enter")]  # Submit, then "Submit answers"
    assert answer_keys(screen, ["Large"], "") == [("key", "2"), *[("key", "Down")] * 3, *submit]
    assert answer_keys(screen, ["Small"], "tiny") == [
        ("key", "1"),
        ("key", "Down"),
        ("key", "Down"),
        ("paste", "tiny"),
        ("key", "Down"),
        *submit,
    ]
    assert answer_keys(screen, ["Huge"], "") is None
