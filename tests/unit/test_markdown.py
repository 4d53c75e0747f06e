"""Markdown to safe rich text, and the split that lets streaming render each block once."""

from __future__ import annotations

import re

from desktop_chat.core.markdown import MarkdownRenderer

render = MarkdownRenderer().render


def test_structure_is_rendered():
    out = render(
        "# Title\n\n*em* **strong** `code` ~~gone~~\n\n- a\n- b\n\n1. x\n2. y\n\n> quote\n\n| a | b |\n|---|--:|\n| 1 | 2 |\n"
    )
    for fragment in (
        "<h1>Title</h1>",
        "<i>em</i>",
        "<b>strong</b>",
        "code</code>",
        "<s>gone</s>",
        "<ul><li>a</li>",
        "<ol><li>x</li>",
        "<blockquote",
        "<table",
        '<td align="right">2</td>',
    ):
        assert fragment in out.html, fragment


def test_code_blocks_are_highlighted_and_copyable():
    out = render("```python\ndef f():\n    return 1\n```\n", code_offset=3)
    assert out.code_blocks == ["def f():\n    return 1"]
    assert 'href="copy:3"' in out.html
    assert "<span style=" in out.html  # pygments colours
    unknown = render("```nosuchlang\n<b>x</b>\n```\n")
    assert "&lt;b&gt;x&lt;/b&gt;" in unknown.html


def test_hostile_output_is_inert():
    hostile = (
        '<script>alert(1)</script> <img src="http://evil.example/x.png" onerror="x()">\n\n'
        "![tracker](http://evil.example/pixel.gif) ![local](file:///etc/passwd)\n\n"
        "[js](javascript:alert(1)) [file](file:///etc/passwd) [ok](https://example.org) [mail](mailto:a@b.c)\n\n"
        "<iframe src='http://evil.example'></iframe>\n"
    )
    html = render(hostile).html
    assert "<script" not in html and "<img" not in html and "<iframe" not in html
    assert "&lt;script&gt;" in html
    assert 'href="javascript' not in html and 'href="file' not in html
    assert 'href="https://example.org"' in html and 'href="mailto:a@b.c"' in html
    assert "[image: tracker]" in html  # shown as a link to click, never fetched
    tags = set(re.findall(r"<([a-z0-9]+)", html))
    assert tags <= {"p", "a", "b", "i", "s", "code", "pre", "span", "br"}, tags


def test_a_text_rendered_block_by_block_is_the_text_rendered_whole():
    # What the transcript relies on: a segment's HTML is its blocks' HTML, each rendered
    # alone with the message's references (so a finished block is never rendered again).
    from desktop_chat.core.segments import segments_of

    text = (
        "Intro **bold**.\n\n- a\n- b\n\n| h |\n|---|\n| c |\n\nSee [x].\n\n> quoted\n> [x]\n\n[x]: https://a.example\n"
    )
    segments, references = segments_of(text)
    blocks = [block.source for segment in segments for block in segment.blocks]
    assert len(blocks) == 5
    assert "".join(render(block, references=references).html for block in blocks) == render(text).html


def test_highlighting_keeps_every_character_in_few_runs():
    import html

    from desktop_chat.core.markdown import highlight

    code = "def f(x):\n    return x + 1  # sum\n\n\tpass\n"
    out = highlight(code, "python", "default")
    # Every character is there, in order, and the keywords keep their colour...
    assert html.unescape(re.sub(r"<[^>]+>", "", out)) == code
    assert re.search(r'<span style="[^"]*font-weight: bold">def ', out)
    # ...but whitespace has no span of its own (its colour cannot be seen): fewer
    # runs of text, fewer fragments for Qt to walk when the transcript changes.
    assert not re.search(r"<span[^>]*>\s+</span>", out)
    plain = "x = 1\n"
    assert html.unescape(re.sub(r"<[^>]+>", "", highlight(plain, "nosuchlanguage", "default"))) == plain


def test_task_lists_show_boxes_not_brackets():
    html = MarkdownRenderer().render("- [ ] to do\n- [x] done\n- [y] not a box\n\nA [ ] in a sentence.\n").html
    assert "☐ to do" in html and "☑ done" in html
    assert "[y] not a box" in html and "A [ ] in a sentence." in html
