"""Math in replies: found in the markdown (`$...$`, `$$...$$`, `\\(...\\)`, `\\[...\\]`) and
typeset to SVG by ziamath (pure Python, its own STIX Two Math font, nothing fetched) in a
helper process (`desktop-chat --typeset`), so a long formula never holds the window.

Money is not math: `$` opens inline math only before a non-space, non-digit character and
closes it only after a non-space character and before anything but a letter, a digit,
`_`, `{` or `(`, and never around a double quote (so "$5 and $10", "$HOME/bin:$PATH",
`"$f" "${f%.txt}"` and shell prompts stay text). A formula too long,
nested too deep, or naming a link or a file (`\\href`, `\\url`, `\\includegraphics`,
`\\input`) is shown as code, never typeset.
"""

from __future__ import annotations

import json
import re
import sys
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from markdown_it.rules_block import StateBlock
    from markdown_it.rules_inline import StateInline

# `desktop-chat --typeset`: the helper process that typesets for the window.
TYPESET_FLAG = "--typeset"
# Beyond these a formula is shown as its source (typesetting grows faster than its length:
# ziamath took 2.5 s for 4,000 characters here).
MAX_SOURCE = 1_500
MAX_DEPTH = 40
_REFUSED = re.compile(r"\\(?:href|url|includegraphics|input|include|import|write|openin|immediate)(?![A-Za-z])")
# What may not follow a closing $: a word ("$HOME/bin:$PATH"), a shell's ${...} or $(...).
_AFTER_CLOSE = re.compile(r"[\w{(]")


@dataclass(frozen=True)
class Formula:
    tex: str
    display: bool
    # Pixel size of the text around it, and its colour (#rrggbb).
    size: float
    color: str

    @property
    def name(self) -> str:
        """The document resource that shows it (`math:` and a digest of what it is)."""
        import hashlib

        digest = hashlib.blake2b(f"{self.display}|{self.size}|{self.color}|{self.tex}".encode(), digest_size=12)
        return "math:" + digest.hexdigest()


# Formulas the renderer named, by resource name: what the typesetter is asked for when a
# document wants one (the most recent kept).
_NAMED: OrderedDict[str, Formula] = OrderedDict()
# (Well beyond what the rendered blocks cached in ui/transcript/segments.py can name.)
NAMED_KEPT = 50_000


def name_for(formula: Formula) -> str:
    name = formula.name
    _NAMED[name] = formula
    _NAMED.move_to_end(name)
    while len(_NAMED) > NAMED_KEPT:
        _NAMED.popitem(last=False)
    return name


def formula_named(name: str) -> Formula | None:
    return _NAMED.get(name)


def refusal(tex: str) -> str | None:
    """Why a formula is shown as its source rather than typeset, or None."""
    if len(tex) > MAX_SOURCE:
        return f"longer than {MAX_SOURCE:,} characters"
    depth = deepest = 0
    for ch in tex:
        if ch == "{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == "}":
            depth -= 1
    if deepest > MAX_DEPTH:
        return f"nested deeper than {MAX_DEPTH}"
    if _REFUSED.search(tex):
        return "it names a link or a file"
    return None


# Parsing


def math_plugin(md: MarkdownIt) -> None:
    """`$...$`, `$$...$$` (mdit-py-plugins' dollarmath, with money left alone) and
    `\\(...\\)`, `\\[...\\]` (read before CommonMark takes `\\(` for an escaped bracket)."""
    from mdit_py_plugins.dollarmath import dollarmath_plugin
    from mdit_py_plugins.dollarmath.index import math_inline_dollar

    dollarmath_plugin(md, allow_space=False, allow_digits=False, double_inline=True, allow_labels=False)
    md.inline.ruler.at("math_inline", _not_before_a_word(math_inline_dollar(False, False, True)))
    md.inline.ruler.before("escape", "math_inline_bracket", _bracket_inline)
    md.block.ruler.before("fence", "math_block_bracket", _bracket_block)


def _not_before_a_word(rule: Any) -> Any:
    def checked(state: StateInline, silent: bool) -> bool:
        start = state.pos
        if not rule(state, True):
            return False
        end = state.pos
        state.pos = start
        if end < state.posMax and _AFTER_CLOSE.match(state.src[end]):
            return False  # "$HOME/bin:$PATH": the closing $ runs into a word
        if '"' in state.src[start:end]:
            return False  # shell quoting ("$f" "${f%.txt}"); TeX has no use for a double quote
        return bool(rule(state, silent))

    return checked


def _bracket_inline(state: StateInline, silent: bool) -> bool:
    src, pos = state.src, state.pos
    if not src.startswith("\\(", pos):
        return False
    end = src.find("\\)", pos + 2)
    if end < 0 or not src[pos + 2 : end].strip():
        return False
    if not silent:
        token = state.push("math_inline", "math", 0)
        token.content = src[pos + 2 : end].strip()
        token.markup = "\\("
    state.pos = end + 2
    return True


def _bracket_block(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    begin = state.bMarks[start_line] + state.tShift[start_line]
    if state.sCount[start_line] - state.blkIndent >= 4 or not state.src.startswith("\\[", begin):
        return False
    line = start_line
    first = state.src[begin + 2 : state.eMarks[start_line]]
    lines = [first]
    closed = "\\]" in first
    while not closed:
        line += 1
        if line >= end_line:
            return False  # not closed (yet): text, until it is
        text = state.src[state.bMarks[line] + state.tShift[line] : state.eMarks[line]]
        if not text.strip():
            return False  # a blank line ends the block unclosed
        lines.append(text)
        closed = "\\]" in text
    body = "\n".join(lines)
    close = body.rfind("\\]")
    if body[close + 2 :].strip():
        return False  # text after \] on its line: not a display block
    if silent:
        return True
    token = state.push("math_block", "math", 0)
    token.block = True
    token.content = body[:close].strip()
    token.markup = "\\["
    token.map = [start_line, line + 1]
    state.line = line + 1
    return True


# Typesetting (in the helper process)


@dataclass(frozen=True)
class Typeset:
    svg: str
    width: float
    height: float
    ascent: float  # above the baseline, in the SVG's units (pixels)


def typeset(formula: Formula) -> Typeset:
    """The formula as SVG; raises ValueError when it cannot be typeset."""
    from ziamath.config import config
    from ziamath.zmath import Latex

    # SVG 1.1: glyphs as paths where they stand (Qt's SVG renderer draws no <symbol>s).
    config.svg2 = False
    try:
        svg = Latex(formula.tex, size=formula.size, color=formula.color, inline=not formula.display).svg()
    except Exception as exc:  # a formula ziamath cannot read is a formula shown as source
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc
    match = re.search(r'viewBox="([-\d.e]+) ([-\d.e]+) ([-\d.e]+) ([-\d.e]+)"', svg)
    if match is None:
        raise ValueError("no size in the typeset formula")
    _, top, width, height = (float(v) for v in match.groups())
    return Typeset(svg, width, height, -top)


def serve(stdin: Any = None, stdout: Any = None) -> int:
    """`desktop-chat --typeset`: a JSON request a line in ({"id", "tex", "display", "size",
    "color"}), a JSON answer a line out ({"id", "svg", "width", "height", "ascent"} or
    {"id", "error"})."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    for line in stdin:
        try:
            request = json.loads(line)
            formula = Formula(
                str(request["tex"]), bool(request["display"]), float(request["size"]), str(request["color"])
            )
        except (ValueError, KeyError, TypeError):
            continue
        answer: dict[str, Any] = {"id": request.get("id")}
        why = refusal(formula.tex)
        if why:
            answer["error"] = why
        else:
            try:
                done = typeset(formula)
                answer |= {"svg": done.svg, "width": done.width, "height": done.height, "ascent": done.ascent}
            except ValueError as exc:
                answer["error"] = str(exc)
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()
    return 0


def helper_command() -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable, TYPESET_FLAG]  # the installed app is its own helper
    # -P: the launch folder is not put on the path (a json.py there would be imported).
    return [sys.executable, "-P", "-m", "desktop_chat.core.math"]


if __name__ == "__main__":
    sys.exit(serve())
