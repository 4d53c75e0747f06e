"""A message's markdown as segments, the same whether it arrived at once or in pieces.

The text is split at its top-level markdown blocks (markdown-it's own parse): a code block
(fenced or indented) is a segment of its own; other blocks are grouped, up to TEXT_BLOCKS
in a segment. Each segment is rendered on its own, with the reference definitions of the
whole message (`[1]: https://...` at the end applies to `[1]` anywhere).

`MarkdownStream` takes a reply as it streams. Everything before the last OPEN_BLOCKS
top-level blocks is final, so it re-parses only from the start of those: the cost of a
piece stays flat however long the reply grows. (Not only the last block is open: the next
line can join the last block to the one before it. "1. foo\n2.\n3" is a list and a
paragraph until ". bar" makes the 3 a third item; "Foo\n-" is a paragraph and a list until
a second "-" makes a heading of them.) Parsing from a block's first line gives the blocks
a parse of the whole text gives, so the segments after any pieces are the segments of the
text they add up to (`segments_of`): what is shown while a reply streams is what is shown
when it is opened again. tests/unit/test_segments.py checks it on the CommonMark spec.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .markdown import parser

# The last blocks of a streaming text that more text may still change.
OPEN_BLOCKS = 2

# Blocks of text in one segment: few enough that re-rendering the last one as a reply
# streams stays well within a frame, enough that a reply is a handful of segments.
TEXT_BLOCKS = 8

# What may name a reference: [label], [text][label], [label][].
_BRACKETED = re.compile(r"\[([^\[\]\n]{1,999})\]")

References = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Block:
    """One top-level markdown block: its source and, for a code block, its code."""

    source: str
    code: bool = False
    language: str = ""
    content: str = ""

    @cached_property
    def labels(self) -> frozenset[str]:
        """Reference labels the text may use (a generous guess: anything in brackets)."""
        from markdown_it.common.utils import normalizeReference

        if self.code:
            return frozenset()
        return frozenset(normalizeReference(label) for label in _BRACKETED.findall(self.source))


@dataclass(frozen=True)
class Segment:
    """Blocks rendered together: one code block, or up to TEXT_BLOCKS of anything else."""

    blocks: tuple[Block, ...]

    @property
    def code(self) -> bool:
        return self.blocks[0].code

    @property
    def source(self) -> str:
        # A blank line between blocks, as between any two blocks: without it, a paragraph
        # after a table would be read as one more row.
        return "\n".join(block.source for block in self.blocks)

    def labels(self) -> frozenset[str]:
        """Reference labels the text may use (a generous guess: anything in brackets)."""
        return frozenset().union(*(block.labels for block in self.blocks))


def group(blocks: list[Block], start: list[Segment] | None = None) -> list[Segment]:
    """Blocks into segments, left to right; `start` is the grouping of the blocks before them."""
    segments = list(start or [])
    for block in blocks:
        last = segments[-1] if segments else None
        if block.code or last is None or last.code or len(last.blocks) >= TEXT_BLOCKS:
            segments.append(Segment((block,)))
        else:
            segments[-1] = Segment((*last.blocks, block))
    return segments


@dataclass
class Rendered:
    """What a segment was last shown with: its blocks and the references it used."""

    segment: Segment
    references: dict[str, Any] = field(default_factory=dict)


class MarkdownStream:
    """A reply's segments as it streams (`feed`), and when it ends (`finish`)."""

    def __init__(self) -> None:
        self.text = ""
        # Where the open region starts: the first line of the last block, which more text
        # may still change. Before it, blocks and definitions are final.
        self._open_at = 0
        self._final_blocks: list[Block] = []
        self._final_segments: list[Segment] = []
        self._final_references: References = {}
        self.segments: list[Segment] = []
        self.references: References = {}

    @property
    def settled(self) -> int:
        """How many leading segments are final for good: more text cannot change them (the
        last final segment can still take in the next blocks)."""
        return max(0, len(self._final_segments) - 1)

    def feed(self, piece: str) -> None:
        self.text += piece
        self._update(finished=False)

    def finish(self) -> None:
        self._update(finished=True)

    def _update(self, finished: bool) -> None:
        env: dict[str, Any] = {"references": dict(self._final_references)}
        blocks, starts = parse_blocks(self.text, self._open_at, env)
        keep = len(blocks) if finished else max(0, len(blocks) - OPEN_BLOCKS)
        if keep:
            # All but the last blocks are final: they (and the definitions before the first
            # open block's first line) leave the open region for good.
            last_start = starts[keep] if keep < len(starts) else len(self.text)
            self._final_blocks.extend(blocks[:keep])
            self._final_segments = group(blocks[:keep], self._final_segments)
            open_definitions = _definitions_before(
                env["references"], self._final_references, self.text, self._open_at, last_start
            )
            self._final_references.update(open_definitions)
            self._open_at = last_start
            blocks = blocks[keep:]
        self.segments = group(blocks, self._final_segments)
        # (Where a definition was found means nothing once it is known.)
        self.references = {
            label: {"href": value["href"], "title": value["title"]} for label, value in env["references"].items()
        }


def _definitions_before(found: References, known: References, text: str, open_at: int, before: int) -> References:
    """The definitions among `found` (parsed from text[open_at:]) that lie before offset `before`."""
    if before >= len(text):
        return {label: value for label, value in found.items() if label not in known}
    lines_before = text.count("\n", open_at, before)
    return {
        label: value
        for label, value in found.items()
        if label not in known and value.get("map") and value["map"][0] < lines_before
    }


def parse_blocks(text: str, start: int, env: dict[str, Any]) -> tuple[list[Block], list[int]]:
    """The top-level blocks of text[start:] (which starts at a block's first line), and the
    offset in `text` where each starts. Definitions found go into env["references"]."""
    region = text[start:]
    tokens = parser().parse(region, env)
    line_starts = [0]
    at = region.find("\n")
    while at >= 0:
        line_starts.append(at + 1)
        at = region.find("\n", at + 1)
    heads = [t for t in tokens if t.level == 0 and t.nesting >= 0 and t.map]
    blocks: list[Block] = []
    starts: list[int] = []
    for token in heads:
        assert token.map is not None
        # The block's own lines: blank lines and definitions after it belong to no block.
        begin = line_starts[token.map[0]] if token.map[0] < len(line_starts) else len(region)
        end = line_starts[token.map[1]] if token.map[1] < len(line_starts) else len(region)
        code = token.type in ("fence", "code_block")
        blocks.append(
            Block(
                region[begin:end],
                code=code,
                language=(token.info or "").strip().split(" ")[0] if code else "",
                content=token.content if code else "",
            )
        )
        starts.append(start + begin)
    return blocks, starts


def segments_of(text: str) -> tuple[list[Segment], References]:
    """The segments and references of a whole message, as when it is opened."""
    stream = MarkdownStream()
    stream.feed(text)
    stream.finish()
    return stream.segments, stream.references
