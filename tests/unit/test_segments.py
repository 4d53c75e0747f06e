"""Segments: a message's markdown split into blocks that render alone, the same streamed or at once."""

from __future__ import annotations

import json
import random

from desktop_chat.core.segments import TEXT_BLOCKS, MarkdownStream, segments_of
from tests.fakes.openai_server import DEMO_REPLY, TESTDATA

MARKDOWN = TESTDATA / "markdown"


def cases() -> list[str]:
    spec = [case["markdown"] for case in json.loads((MARKDOWN / "commonmark-spec.json").read_text())]
    fixtures = (MARKDOWN / "gfm-tables.md").read_text().split("\n.\n")
    tables = [fixtures[i] for i in range(1, len(fixtures) - 1, 3)]  # title / markdown / html
    return [
        *spec,
        *tables,
        *MATH_REPLIES,
        DEMO_REPLY,
        "See [1] and [2].\n\n[1]: https://a.example\n[2]: https://b.example/\n",
    ]


# Answers with math as models write it (made up, in the notations models use), and money.
MATH_REPLIES = [
    "The roots of \\(ax^2+bx+c=0\\) are\n\n\\[\nx = \\frac{-b \\pm \\sqrt{b^2-4ac}}{2a}\n\\]\n\n"
    "so for $a=1$, $b=-3$, $c=2$ they are $x=1$ and $x=2$.\n",
    "It costs $5 and $10 with tax; `echo $HOME` prints your home, and $$E = mc^2$$ inline.\n\n"
    "$$\n\\sum_{n=1}^{\\infty} \\frac{1}{n^2} = \\frac{\\pi^2}{6}\n$$\n\n"
    "| quantity | formula |\n|---|---|\n| area | $\\pi r^2$ |\n| price | $5 |\n",
    "1. First, $\\int_0^1 x\\,dx = \\tfrac12$\n2. Then \\(e^{i\\pi} = -1\\)\n\n> Quoted: $\\alpha + \\beta$\n",
]


def streamed(text: str, seed: int, check_every: int = 0) -> MarkdownStream:
    """The text fed in random pieces of 1-12 characters; with check_every, compared with the
    at-once segments of what has arrived every so many pieces."""
    rng = random.Random(seed)
    stream = MarkdownStream()
    at = pieces = 0
    while at < len(text):
        size = rng.randint(1, 12)
        stream.feed(text[at : at + size])
        at += size
        pieces += 1
        if check_every and pieces % check_every == 0:
            once, references = segments_of(stream.text)
            live = [s.source for s in stream.segments]
            # While it streams the last block is open: at once it is the same block, finished.
            assert live == [s.source for s in once], (text[:at], live)
            assert stream.references == references
    stream.finish()
    return stream


def test_streamed_in_any_pieces_the_segments_are_those_of_the_whole_text():
    for number, text in enumerate(cases()):
        once, references = segments_of(text)
        live = streamed(text, seed=number, check_every=1)
        assert [s.source for s in live.segments] == [s.source for s in once], text
        assert [s.code for s in live.segments] == [s.code for s in once], text
        assert live.references == references, text


def test_code_blocks_are_segments_of_their_own_and_text_is_grouped():
    text = "".join(f"Paragraph {i}.\n\n" for i in range(TEXT_BLOCKS + 2)) + "```py\nx = 1\n```\nAfter.\n"
    segments, _ = segments_of(text)
    assert [len(s.blocks) for s in segments] == [TEXT_BLOCKS, 2, 1, 1]
    assert [s.code for s in segments] == [False, False, True, False]
    code = segments[2].blocks[0]
    assert (code.language, code.content) == ("py", "x = 1\n")


def test_a_late_definition_is_known_to_the_text_before_it():
    segments, references = segments_of("Cited [1].\n\n" + "More.\n\n" * 20 + "[1]: https://a.example\n")
    assert references["1"]["href"] == "https://a.example"
    assert "1" in segments[0].labels()
