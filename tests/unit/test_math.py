"""Math in replies: found where it is, never in money or shell; refused when it could hurt;
typeset by the real helper protocol; the same streamed as at once."""

from __future__ import annotations

import io
import json
import random

import pytest

from desktop_chat.core.markdown import MarkdownRenderer, parser
from desktop_chat.core.math import MAX_SOURCE, Formula, refusal, serve, typeset
from desktop_chat.core.segments import MarkdownStream, segments_of


def formulas(text: str) -> list[tuple[str, str]]:
    found = []
    for token in parser().parse(text):
        for t in [token, *(token.children or [])]:
            if t.type.startswith("math"):
                found.append((t.type, t.content))
    return found


NOT_MATH = [
    "It costs $5 and $10.",
    "Between $5.00 and $7.50, or $1,000 with tax.",
    "Prices: $3, $4, $5; a $20 bill.",
    "Set $PATH first.",
    "export PATH=$HOME/bin:$PATH",
    "echo $USER and $HOME",
    'for f in *.txt; do mv "$f" "${f%.txt}.md"; done',
    "$ npm install --save-dev",
    "$ ls -la\n$ cd /tmp",
    "Use `$x$` in code spans, and\n\n```sh\necho $HOME $PATH\n```",
    "The $HOME/bin directory and $XDG_CONFIG_HOME/app.",
    "Costs US$5 and CA$7 today.",
    "A lone $ sign, and $ spaced $ ones.",
    "\\(unclosed and \\[ also",
]

MATH = [
    ("Euler's identity $e^{i\\pi}+1=0$ holds.", [("math_inline", "e^{i\\pi}+1=0")]),
    ("$$\n\\int_0^1 x^2\\,dx = \\frac{1}{3}\n$$", [("math_block", "\n\\int_0^1 x^2\\,dx = \\frac{1}{3}\n")]),
    ("So \\(a^2+b^2=c^2\\) for right triangles.", [("math_inline", "a^2+b^2=c^2")]),
    (
        "\\[\n\\sum_{n=1}^\\infty \\frac{1}{n^2} = \\frac{\\pi^2}{6}\n\\]",
        [("math_block", "\\sum_{n=1}^\\infty \\frac{1}{n^2} = \\frac{\\pi^2}{6}")],
    ),
    ("Both $x$ and $y_1$ here.", [("math_inline", "x"), ("math_inline", "y_1")]),
    ("Inline $$E=mc^2$$ too.", [("math_inline_double", "E=mc^2")]),
]


@pytest.mark.parametrize("text", NOT_MATH)
def test_money_paths_and_shell_are_not_math(text):
    assert formulas(text) == []


@pytest.mark.parametrize(("text", "expected"), MATH)
def test_math_is_found_in_every_notation(text, expected):
    assert [(kind, content.strip("\n") if kind == "math_block" else content) for kind, content in formulas(text)] == [
        (kind, content.strip("\n")) for kind, content in expected
    ]


def test_brackets_are_read_before_commonmark_takes_them_for_escapes():
    # Without the rule, "\(" is an escaped "(" and the backslashes vanish.
    html = MarkdownRenderer(math="source").render("Area \\(\\pi r^2\\).").html
    assert "\\(\\pi r^2\\)" in html


HOSTILE = [
    "{" * 10_000 + "x" + "}" * 10_000,
    "x" * (MAX_SOURCE + 1),
    "\\href{javascript:alert(1)}{click}",
    "\\includegraphics{file:///etc/passwd}",
    "\\url{https://example.com/track.png}",
    "\\input{/etc/passwd}",
]


@pytest.mark.parametrize("tex", HOSTILE, ids=["nested", "long", "href", "includegraphics", "url", "input"])
def test_hostile_formulas_are_shown_as_code_never_typeset(tex):
    assert refusal(tex) is not None
    html = MarkdownRenderer(math="image").render(f"see ${tex}$ here").html
    assert "<img" not in html and "<code" in html
    # The helper refuses them too, if asked directly.
    out = io.StringIO()
    serve(io.StringIO(json.dumps({"id": 1, "tex": tex, "display": False, "size": 16, "color": "#000000"}) + "\n"), out)
    answer = json.loads(out.getvalue())
    assert answer["id"] == 1 and "error" in answer and "svg" not in answer


def test_the_helper_typesets_to_svg_with_nothing_to_load():
    requests = [
        {"id": 1, "tex": "\\frac{a}{b} + \\sqrt{x^2+y^2}", "display": True, "size": 18, "color": "#1f2328"},
        {"id": 2, "tex": "\\frac{", "display": False, "size": 18, "color": "#1f2328"},
        "not json",
    ]
    out = io.StringIO()
    serve(io.StringIO("\n".join(r if isinstance(r, str) else json.dumps(r) for r in requests) + "\n"), out)
    first, second = [json.loads(line) for line in out.getvalue().splitlines()]
    assert first["id"] == 1 and first["svg"].startswith("<svg") and first["height"] > first["ascent"] > 0
    # Paths only: nothing the renderer could fetch or run.
    assert not any(word in first["svg"] for word in ("href", "<image", "<script", "<use", "url("))
    assert second["id"] == 2 and "error" in second


def test_a_formula_is_named_by_what_it_is():
    a = Formula("x^2", False, 16.0, "#000000")
    assert a.name == Formula("x^2", False, 16.0, "#000000").name
    assert (
        len(
            {
                a.name,
                Formula("x^2", True, 16.0, "#000000").name,
                Formula("x^2", False, 18.0, "#000000").name,
                Formula("x^2", False, 16.0, "#ffffff").name,
            }
        )
        == 4
    )
    assert typeset(a).width > 0


MIXED = (
    "Costs $5 and $10, so $x = 5$ is the price.\n\n$$\n\\int_0^1 f(x)\\,dx\n$$\n\n"
    "Then \\(a^2\\) and\n\\[\nb^2\n\\]\n\n- item with $y_i$\n- and $HOME/bin:$PATH\n\n"
    "| a | $b$ |\n|---|---|\n| $c$ | 1 |\n"
)


@pytest.mark.parametrize("seed", range(30))
def test_math_streamed_in_any_pieces_is_the_math_of_the_whole(seed):
    # An unfinished formula is text until it closes; the finished segments are the same.
    rng = random.Random(seed)
    stream = MarkdownStream()
    position = 0
    while position < len(MIXED):
        size = rng.randint(1, 12)
        stream.feed(MIXED[position : position + size])
        position += size
    stream.finish()
    assert [s.source for s in stream.segments] == [s.source for s in segments_of(MIXED)[0]]
