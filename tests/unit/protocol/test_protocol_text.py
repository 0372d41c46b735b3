"""Pure text rules: pane sanitisation, encodable text and Discord splitting."""

from __future__ import annotations

import random

import pytest

from vai.protocol.codec import decode, encode
from vai.protocol.messages import AttachmentRef, Author, ChatMessage, Inbound, PostMessage
from vai.protocol.text import DISCORD_LIMIT, sanitize_prompt, split_for_discord, well_formed


@pytest.mark.parametrize(
    "hostile",
    ["\x1b[201~", "\x03", "\x1b", "\x00", "\x7f", "\x9b201~", "\x04", "\x1a", "\x08"],
)
def test_sanitize_removes_every_key_producing_character(hostile: str) -> None:
    cleaned = sanitize_prompt(f"before{hostile}after")
    assert cleaned.startswith("before") and cleaned.endswith("after")
    assert all(ch in "\t\n" or (ord(ch) >= 0x20 and not 0x7F <= ord(ch) <= 0x9F) for ch in cleaned)


def test_sanitize_keeps_text_newlines_tabs_and_unicode() -> None:
    text = "line one\n\tindented ❯ ünïcode 🙂\r\nwindows\rmac"
    assert sanitize_prompt(text) == "line one\n\tindented ❯ ünïcode 🙂\nwindows\nmac"


def test_short_answer_is_one_message() -> None:
    assert split_for_discord("hello") == ["hello"]
    assert split_for_discord("   \n ") == []


def _fences_balanced(chunk: str) -> bool:
    return sum(1 for line in chunk.split("\n") if line.strip().startswith("```")) % 2 == 0


def test_code_block_spanning_the_split_is_closed_and_reopened() -> None:
    code = "\n".join(f"    value_{i} = compute({i})  # step" for i in range(120))
    text = "Here is the code:\n```python\n" + code + "\n```\nThat is all." + " word" * 300
    assert len(text) > 4500
    chunks = split_for_discord(text)
    assert len(chunks) >= 3
    assert all(len(c) <= DISCORD_LIMIT for c in chunks)
    assert all(_fences_balanced(c) for c in chunks)
    assert chunks[1].startswith("```python\n")
    # Nothing lost: remove the added fences and compare the words.
    rejoined = " ".join(chunks).split()
    assert [w for w in rejoined if w not in ("```", "```python")] == [
        w for w in text.split() if w not in ("```", "```python")
    ]


def test_random_texts_respect_the_limit_and_keep_every_character() -> None:
    rng = random.Random(7)
    for _ in range(200):
        words = ["".join(rng.choices("abcxyz", k=rng.randint(1, 30))) for _ in range(800)]
        seps = [rng.choice([" ", "\n", " ", "  "]) for _ in words]
        text = "".join(w + s for w, s in zip(words, seps, strict=True))
        if rng.random() < 0.2:
            text += "x" * 5000  # one enormous word
        chunks = split_for_discord(text)
        assert all(0 < len(c) <= DISCORD_LIMIT for c in chunks)
        assert "".join("".join(chunks).split()) == "".join(text.split())


@pytest.mark.parametrize(
    ("text", "expected", "count"),
    [
        ("plain ✓ 🙂", "plain ✓ 🙂", 0),
        ("x \udfff", "x \ufffd", 1),
        ("\ud800", "\ufffd", 1),
        ("\udfff\ud800 tail", "\ufffd\ufffd tail", 2),
        ("\ud83d\ude00", "😀", 0),  # a pair split into two code points is joined again
        ("\ud800\ud83d\ude00", "\ufffd😀", 1),
    ],
)
def test_well_formed_replaces_what_utf8_cannot_encode(text: str, expected: str, count: int) -> None:
    assert well_formed(text) == (expected, count)
    expected.encode("utf-8")


def test_a_message_with_lone_surrogates_is_encoded_with_replacements() -> None:
    chat = ChatMessage(
        message_id=1,
        channel_id=2,
        author=Author(id=3, name="mal\udfffory"),
        content="x \udfff",
        attachments=(AttachmentRef(filename="f\ud800.txt", url="u", size=1, content_type=""),),
    )
    back = decode(encode(Inbound(seq=1, session=1, message=chat)))
    assert isinstance(back, Inbound)
    assert back.message.content == "x \ufffd"
    assert back.message.author.name == "mal\ufffdory"
    assert back.message.attachments[0].filename == "f\ufffd.txt"
    posted = decode(encode(PostMessage(session=1, text="dp \udcff")))
    assert isinstance(posted, PostMessage) and posted.text == "dp \ufffd"
