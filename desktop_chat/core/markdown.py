"""Model output to safe rich text: markdown-it for structure, pygments for code.

Output is data, never trusted markup: raw HTML is shown as text, images become
plain links (nothing is ever fetched), and only http(s) and mailto links keep an
address. The HTML produced uses the subset QTextDocument understands.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.token import Token

SAFE_SCHEMES = ("http://", "https://", "mailto:")
TASK_BOXES = {"[ ] ": "☐ ", "[x] ": "☑ ", "[X] ": "☑ "}


@dataclass(frozen=True)
class Palette:
    dark: bool = False

    @property
    def code_background(self) -> str:
        return "#1e1f24" if self.dark else "#f4f5f7"

    @property
    def code_foreground(self) -> str:
        return "#e6e6e6" if self.dark else "#1f2328"

    @property
    def muted(self) -> str:
        return "#9aa0a6" if self.dark else "#656d76"

    @property
    def link(self) -> str:
        return "#8ab4f8" if self.dark else "#0b57d0"

    @property
    def quote_border(self) -> str:
        return "#5f6368" if self.dark else "#c4c7c5"

    @property
    def bubble(self) -> str:
        """The background of the user's own messages."""
        return "#2f3136" if self.dark else "#eef1f5"

    @property
    def error(self) -> str:
        return "#f28b82" if self.dark else "#b3261e"

    @property
    def error_background(self) -> str:
        return "#3c2a2a" if self.dark else "#fcebea"

    @property
    def text(self) -> str:
        return "#e6e6e6" if self.dark else "#1f2328"

    @property
    def pygments_style(self) -> str:
        # (friendly's comments were 2.7:1 on the code background; default's are 4.9:1)
        return "monokai" if self.dark else "default"


def is_safe_link(url: str) -> bool:
    return url.strip().lower().startswith(SAFE_SCHEMES)


@lru_cache(maxsize=1)
def parser() -> MarkdownIt:
    # commonmark + GFM tables and strikethrough; html=False shows tags as text.
    # Imported here, on first use, to keep it off the way to the first window.
    from markdown_it import MarkdownIt

    from .math import math_plugin

    md = MarkdownIt("commonmark", {"html": False, "breaks": False}).enable(["table", "strikethrough"])
    math_plugin(md)
    return md


@dataclass
class RenderedMarkdown:
    html: str
    code_blocks: list[str] = field(default_factory=list)


class MarkdownRenderer:
    """Renders markdown to QTextDocument-friendly HTML.

    Code blocks get a "Copy" link `copy:N`; N indexes `code_blocks` of the result,
    offset by `code_offset`, so a view can keep one list for a whole transcript.
    """

    def __init__(self, palette: Palette | None = None, math: str = "source", math_size: float = 16.0) -> None:
        """`math`: how formulas show: "image" (a `math:` resource a document's view
        typesets, core/math.py), "mathml" (a web page), or "source" (as code)."""
        self.palette = palette or Palette()
        self.math = math
        self.math_size = math_size

    def render(self, text: str, code_offset: int = 0, references: dict[str, Any] | None = None) -> RenderedMarkdown:
        """`references` are the link definitions of the whole message the text is part of."""
        env: dict[str, Any] = {"references": dict(references)} if references else {}
        tokens = parser().parse(text, env)
        out = RenderedMarkdown("")
        out.html = self._render_tokens(tokens, out, code_offset)
        return out

    # The default renderer knows nothing of our rules; walk the tokens ourselves.
    def _render_tokens(self, tokens: list[Token], out: RenderedMarkdown, code_offset: int) -> str:
        parts: list[str] = []
        p = self.palette
        item_starts = False  # the next inline text opens a list item (a task box may lead it)
        for token in tokens:
            kind = token.type
            if kind == "inline":
                parts.append(self._render_inline(token.children or [], task_box=item_starts))
                item_starts = False
            elif kind in ("fence", "code_block"):
                parts.append(self._code_block(token, out, code_offset))
            elif kind == "paragraph_open":
                if not token.hidden:
                    parts.append("<p>")
            elif kind == "paragraph_close":
                if not token.hidden:
                    parts.append("</p>")
            elif kind == "heading_open":
                parts.append(f"<{token.tag}>")
            elif kind == "heading_close":
                parts.append(f"</{token.tag}>")
            elif kind == "bullet_list_open":
                parts.append("<ul>")
            elif kind == "bullet_list_close":
                parts.append("</ul>")
            elif kind == "ordered_list_open":
                start = token.attrGet("start")
                parts.append(f'<ol start="{int(start)}">' if start else "<ol>")
            elif kind == "ordered_list_close":
                parts.append("</ol>")
            elif kind == "list_item_open":
                parts.append("<li>")
                item_starts = True
            elif kind == "list_item_close":
                parts.append("</li>")
            elif kind == "blockquote_open":
                parts.append(
                    f'<blockquote style="color:{p.muted}; margin-left:12px; '
                    f'border-left: 3px solid {p.quote_border}; padding-left: 8px">'
                )
            elif kind == "blockquote_close":
                parts.append("</blockquote>")
            elif kind == "hr":
                parts.append("<hr/>")
            elif kind == "table_open":
                # Separate borders drawn 1 px over each other (cellspacing -1) look like
                # collapsed ones; Qt paints collapsed borders with lookups per cell edge
                # that cost more the longer the document (half of each repaint, measured).
                parts.append(
                    f'<table border="1" cellspacing="-1" cellpadding="6" '
                    f'style="border-style: solid; border-color:{p.quote_border}">'
                )
            elif kind == "table_close":
                parts.append("</table>")
            elif kind in ("thead_open", "thead_close", "tbody_open", "tbody_close"):
                parts.append(f"<{'/' if kind.endswith('close') else ''}{token.tag}>")
            elif kind == "tr_open":
                parts.append("<tr>")
            elif kind == "tr_close":
                parts.append("</tr>")
            elif kind in ("th_open", "td_open"):
                style = str(token.attrGet("style") or "")
                align = style.replace("text-align:", "").strip() if style else ""
                parts.append(f'<{token.tag} align="{align}">' if align else f"<{token.tag}>")
            elif kind in ("th_close", "td_close"):
                parts.append(f"</{token.tag}>")
            elif kind == "html_block":
                parts.append(f"<p>{_text(token.content)}</p>")
            elif kind == "math_block":
                parts.append(f'<p align="center">{self._formula(token.content, token.markup, display=True)}</p>')
        return "".join(parts)

    def _formula(self, tex: str, markup: str, display: bool) -> str:
        """A formula as the renderer's `math` says; as its source (code) when it is refused."""
        from .math import Formula, name_for, refusal

        close = {"$": "$", "$$": "$$", "\\(": "\\)", "\\[": "\\]"}.get(markup, markup)
        source = f"{markup}{tex}{close}"
        if self.math == "image" and refusal(tex) is None:
            name = name_for(Formula(tex, display, self.math_size, self.palette.text))
            return f'<img src="{name}" alt="{html.escape(source, quote=True)}" style="vertical-align: middle" />'
        if self.math == "mathml" and refusal(tex) is None:
            mathml = _mathml(tex, display)
            if mathml is not None:
                return mathml
        p = self.palette
        return f'<code style="background-color:{p.code_background}; font-family:monospace">{_text(source)}</code>'

    def _render_inline(self, children: list[Token], task_box: bool = False) -> str:
        parts: list[str] = []
        link_stack: list[bool] = []
        p = self.palette
        for position, token in enumerate(children):
            kind = token.type
            if kind == "text":
                text = token.content
                if task_box and position == 0 and text[:4] in TASK_BOXES:
                    # GFM task lists: "- [ ] to do", "- [x] done".
                    text = TASK_BOXES[text[:4]] + text[4:]
                parts.append(_text(text))
            elif kind in ("softbreak",):
                parts.append(" ")
            elif kind == "hardbreak":
                parts.append("<br/>")
            elif kind == "code_inline":
                parts.append(
                    f'<code style="background-color:{p.code_background}; font-family:monospace">'
                    f"{_text(token.content)}</code>"
                )
            elif kind in ("strong_open", "em_open", "s_open"):
                parts.append({"strong_open": "<b>", "em_open": "<i>", "s_open": "<s>"}[kind])
            elif kind in ("strong_close", "em_close", "s_close"):
                parts.append({"strong_close": "</b>", "em_close": "</i>", "s_close": "</s>"}[kind])
            elif kind == "link_open":
                href = str(token.attrGet("href") or "")
                safe = is_safe_link(href)
                link_stack.append(safe)
                if safe:
                    parts.append(f'<a href="{html.escape(href, quote=True)}" style="color:{p.link}">')
            elif kind == "link_close":
                if link_stack and link_stack.pop():
                    parts.append("</a>")
            elif kind == "image":
                # Never fetch: show the alt text, linked if the address is a web one.
                src = str(token.attrGet("src") or "")
                alt = _text(token.content or "image")
                label = f"[image: {alt}]"
                if is_safe_link(src):
                    parts.append(f'<a href="{html.escape(src, quote=True)}" style="color:{p.link}">{label}</a>')
                else:
                    parts.append(label)
            elif kind == "html_inline":
                parts.append(_text(token.content))
            elif kind in ("math_inline", "math_inline_double"):
                parts.append(self._formula(token.content, token.markup, display=kind == "math_inline_double"))
        return "".join(parts)

    def _code_block(self, token: Token, out: RenderedMarkdown, code_offset: int) -> str:
        p = self.palette
        code = token.content
        if code.endswith("\n"):
            code = code[:-1]
        language = (token.info or "").strip().split(" ")[0]
        index = code_offset + len(out.code_blocks)
        out.code_blocks.append(code)
        label = _text(language) if language else "code"
        header = (
            f'<p style="margin-top:8px; margin-bottom:0px; color:{p.muted}; font-size:small">'
            f'{label} &#183; <a href="copy:{index}" style="color:{p.link}">Copy</a></p>'
        )
        body = highlight(code, language, p.pygments_style).rstrip("\n")
        return (
            f'{header}<pre style="background-color:{p.code_background}; color:{p.code_foreground}; '
            f'margin-top:2px; font-family:monospace; white-space:pre-wrap">{body}</pre>'
        )


def _mathml(tex: str, display: bool) -> str | None:
    """MathML for a web page (latex2mathml, which ziamath uses too); None if it cannot read it."""
    try:
        from latex2mathml.converter import convert

        return str(convert(tex, display="block" if display else "inline"))
    except Exception:
        return None


def _text(value: str) -> str:
    return html.escape(value, quote=False)


@lru_cache(maxsize=16)
def _formatter(style: str) -> Any:
    from pygments.formatters import HtmlFormatter

    return HtmlFormatter(style=style, noclasses=True, nowrap=True)


@lru_cache(maxsize=64)
def _lexer(language: str) -> Any:
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    if not language:
        return None
    try:
        return get_lexer_by_name(language.lower(), stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None


def highlight(code: str, language: str, style: str) -> str:
    lexer = _lexer(language)
    if lexer is None:
        return _text(code)
    from pygments import format as pyg_format
    from pygments.token import Text

    runs: list[tuple[Any, str]] = []
    for kind, value in lexer.get_tokens(code):
        if value.isspace():
            # Whitespace's colour cannot be seen: it joins the run before it on the
            # same line, or is plain text. Fewer runs, fewer fragments in the
            # transcript's document, all of which Qt walks whenever a table is added.
            if runs and not runs[-1][1].endswith("\n"):
                kind = runs[-1][0]
            else:
                kind = Text
        if runs and kind is runs[-1][0]:
            runs[-1] = (kind, runs[-1][1] + value)
        else:
            runs.append((kind, value))
    return str(pyg_format(runs, _formatter(style)))
