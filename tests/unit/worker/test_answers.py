"""Answers with several options or free text: what Claude is told, which answers fit."""

from __future__ import annotations

from vai.protocol.messages import ChoiceAnswer, ChoiceRequest
from vai.worker.choices import answer_problem
from vai.worker.tool_hooks import Question, answer_text, question_text


def _request(multi: bool = False, other: bool = False) -> ChoiceRequest:
    return ChoiceRequest(
        request_id="r",
        session=1,
        kind="question",
        text="?",
        options=["Small", "Medium", "Large"],
        multi_select=multi,
        other=other,
    )


def _answer(option: str = "", options: list[str] | None = None, text: str = "") -> ChoiceAnswer:
    return ChoiceAnswer(request_id="r", session=1, option=option, options=options or [], text=text)


def test_a_multi_select_answer_is_the_labels_joined_as_the_cli_does() -> None:
    # The real CLI 2.1.330 answers "Which sizes?" with [✔] Small and [✔] Large as
    # "Small, Large" (tool_response.answers, see tests/integration/bridge).
    assert answer_text(_answer("Small", ["Small", "Large"])) == "Small, Large"
    assert answer_text(_answer("Blue")) == "Blue"
    assert answer_text(_answer(text="  purple haze ")) == "purple haze"
    assert answer_text(_answer("Small", ["Small"], text="tiny")) == "Small, tiny"


def test_only_answers_that_fit_the_request_are_taken() -> None:
    single, multi = _request(), _request(multi=True, other=True)
    assert answer_problem(single, _answer("Small")) == ""
    assert answer_problem(single, _answer("Huge"))
    assert answer_problem(single, _answer("Small", ["Small", "Large"]))
    assert answer_problem(single, _answer(text="something else"))
    assert answer_problem(multi, _answer("Small", ["Small", "Large"])) == ""
    assert answer_problem(multi, _answer("Small", ["Small", "Small"]))
    assert answer_problem(multi, _answer("Small", ["Small", "Tiny"]))
    assert answer_problem(multi, _answer(text="tiny")) == ""
    assert answer_problem(single, _answer("")) == ""  # expiry


def test_a_multi_select_question_says_several_may_be_picked() -> None:
    question = Question("Which sizes?", "Size", ("Small", "Large"), multi_select=True)
    text = question_text(question, 0, 1)
    assert text.startswith("**Size**: Which sizes?") and "one or more" in text
    assert "one or more" not in question_text(Question("Which?", "", ("A",)), 0, 1)
