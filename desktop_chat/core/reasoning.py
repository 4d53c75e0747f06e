"""Thinking written into the answer's text: `<think>...</think>` at the start of the content
(llama.cpp without --reasoning-format, some Ollama templates), or only the closing tag
(a template that put `<think>` into the prompt), told apart from the answer as it streams.

Servers that send reasoning in its own field (`reasoning_content`, `reasoning`) need none
of this: their ReasoningDelta events pass through untouched.
"""

from __future__ import annotations

import re
from dataclasses import replace
from enum import Enum

from .events import AnswerWasReasoning, ReasoningDelta, ReasoningWasAnswer, TextDelta
from .state import StateFile

OPEN = "<think>"
CLOSE = "</think>"


SplitEvent = TextDelta | ReasoningDelta | AnswerWasReasoning | ReasoningWasAnswer


class Unopened(Enum):
    """What is known of a model that may start thinking without an opening tag (learned
    from its earlier replies: `AppState.think_unopened`)."""

    UNKNOWN = "unknown"  # no reply of it seen yet
    YES = "yes"  # its last reply closed a thought it never opened
    NO = "no"  # its last reply had no closing tag


class _State(Enum):
    START = 1  # nothing decided: the content so far could still be "<think>"
    THINKING = 2  # inside <think>, or a known unopened thought
    ANSWER_WATCHED = 3  # shown as answer, but a bare </think> would make it reasoning
    HELD = 4  # kept back until a </think> or the end says what it was
    ANSWER = 5  # decided: everything from here is answer


class ThinkSplitter:
    """Feed it the content as it arrives; it gives TextDelta, ReasoningDelta and, at most
    once, AnswerWasReasoning.

    `unopened` says what is known of the model; `hold` keeps text back while it cannot be
    told whether it is answer (for `ask`, whose stdout cannot take text back); without
    `hold` such text is given as answer and taken back by AnswerWasReasoning.
    """

    def __init__(self, unopened: Unopened = Unopened.UNKNOWN, hold: bool = False) -> None:
        self.unopened = unopened
        self.hold = hold
        self._state = _State.START
        self._pending = ""  # text not given yet: a possible tag's start, or held text
        # What was given as answer while a bare </think> could still come (in pieces: it
        # grows all reply long), and its last characters, where a tag could begin.
        self._answer: list[str] = []
        self._answer_tail = ""
        self._opened = False
        self._lead = False  # an answer after a thought: its first blank lines are dropped
        self._thought = ""  # reasoning given while no opening tag vouched for it
        # What this reply showed of the model, for the next: a closing tag it never opened.
        self.saw_bare_close = False
        self.saw_tags = False

    def feed(self, text: str) -> list[SplitEvent]:
        if not text:
            return []
        if self._state is _State.ANSWER:
            if self._lead:  # the blank lines between a thought and its answer
                text = text.lstrip("\n")
                self._lead = not text
            return [TextDelta(text)] if text else []
        self._pending += text
        return self._advance(final=False)

    def finish(self, clean: bool = True) -> list[SplitEvent]:
        """The content ended: what was kept back is given for what it is now known to be.
        `clean`: the model said it was done (not stopped, cut off or failed); only then is
        a thought that never closed taken for an answer (thinking switched off)."""
        events = self._advance(final=True)
        rest, self._pending = self._pending, ""
        if self._state is _State.THINKING and not self._opened and clean:
            events.append(ReasoningWasAnswer(self._thought))
            self._state = _State.ANSWER
            self._thought = ""
        if rest:
            # Reasoning that never closed stays reasoning; anything else is answer.
            events.append(ReasoningDelta(rest) if self._state is _State.THINKING else TextDelta(rest))
        self._state = _State.ANSWER
        return events

    def _advance(self, final: bool) -> list[SplitEvent]:
        events: list[SplitEvent] = []
        if self._state is _State.START:
            head = self._pending.lstrip()
            if head.startswith(OPEN):
                self.saw_tags = self._opened = True
                self._pending = head[len(OPEN) :]
                self._state = _State.THINKING
            elif OPEN.startswith(head) and not final:
                return events  # "<thi": wait for more
            elif self.unopened is Unopened.YES:
                self._state = _State.THINKING
            elif self.unopened is Unopened.NO:
                self._state = _State.ANSWER  # (its answer may quote </think> as it likes)
                text, self._pending = self._pending, ""
                return [TextDelta(text)] if text else []
            elif self.hold:
                self._state = _State.HELD
            else:
                self._state = _State.ANSWER_WATCHED
        if self._state is _State.THINKING:
            events += self._until_close()
        elif self._state in (_State.HELD, _State.ANSWER_WATCHED):
            events += self._watch()
        return events

    def _watch(self) -> list[SplitEvent]:
        """Text that a bare </think> would turn into thought: shown (or held) until one
        comes. An answer that quotes code or names the tags is no thought: once a backtick
        or "<think" appears before any closing tag, it is answer for good."""
        held = self._state is _State.HELD
        tail = self._answer_tail
        combined = tail + self._pending
        # A closing tag begins after the text already given (that holds none).
        at = combined.find(CLOSE, max(0, len(tail) - len(CLOSE) + 1))
        before = combined[: at if at >= 0 else len(combined)]
        if "`" in before[len(tail) :] or "<think" in before:
            text, self._pending = self._pending, ""
            self._state = _State.ANSWER
            return [TextDelta(text)] if text else []
        if at >= 0:
            self.saw_bare_close = self.saw_tags = True
            given = "".join(self._answer)
            whole = given + self._pending
            at += len(given) - len(tail)
            thought, after = whole[:at], whole[at + len(CLOSE) :]
            shown = len(given)
            self._answer, self._answer_tail, self._pending = [], "", ""
            events: list[SplitEvent] = []
            if shown:
                events.append(AnswerWasReasoning(thought[:shown]))
            if thought[shown:]:
                events.append(ReasoningDelta(thought[shown:]))
            return events + self._answer_from(after)
        if held:
            return []
        give = self._pending[: len(self._pending) - _tag_start(self._pending, CLOSE)]
        if not give:
            return []
        self._pending = self._pending[len(give) :]
        self._answer.append(give)
        self._answer_tail = (self._answer_tail + give)[-len(CLOSE) :]
        return [TextDelta(give)]

    def _until_close(self) -> list[SplitEvent]:
        events: list[SplitEvent] = []
        at = self._pending.find(CLOSE)
        if at >= 0:
            self.saw_tags = True
            self.saw_bare_close = not self._opened
            thought, after = self._pending[:at], self._pending[at + len(CLOSE) :]
            self._pending = ""
            if thought:
                events.append(ReasoningDelta(thought))
            return events + self._answer_from(after)
        keep = _tag_start(self._pending, CLOSE)
        give = self._pending[: len(self._pending) - keep]
        if give:
            self._pending = self._pending[len(give) :]
            if not self._opened:
                self._thought += give
            events.append(ReasoningDelta(give))
        return events

    def _answer_from(self, text: str) -> list[SplitEvent]:
        self._state = _State.ANSWER
        text = text.lstrip("\n")
        self._lead = not text
        return [TextDelta(text)] if text else []


def _tag_start(text: str, tag: str) -> int:
    """How many characters at the end of `text` could be the start of `tag`."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


def split_think(text: str) -> tuple[str, str]:
    """(reasoning, answer) of a whole content, as ThinkSplitter gives them (for imports
    and stored replies)."""
    splitter = ThinkSplitter()
    reasoning: list[str] = []
    answer: list[str] = []
    for event in splitter.feed(text) + splitter.finish():
        if isinstance(event, AnswerWasReasoning):
            reasoning.append(event.text)
            answer.clear()
        elif isinstance(event, ReasoningWasAnswer):
            answer.insert(0, event.text)
            reasoning.clear()
        elif isinstance(event, ReasoningDelta):
            reasoning.append(event.text)
        elif isinstance(event, TextDelta):
            answer.append(event.text)
    return "".join(reasoning), "".join(answer)


# Model names of families that think in the content (llama.cpp, Ollama and LM Studio serve
# them with templates that may open <think> in the prompt): DeepSeek-R1 and its distills,
# QwQ, Qwen3, gpt-oss, Magistral, EXAONE Deep, Phi-4 reasoning, and names that say so.
_THINKING_NAMES = re.compile(
    r"(?:^|[^a-z0-9])(?:r1|qwq|qwen3|gpt-oss|magistral|exaone-deep|marco-o1|skywork-o1)(?:$|[^a-z0-9])"
    r"|think|reason",
    re.IGNORECASE,
)


def may_think_in_content(model: str) -> bool:
    """Whether a model's name says it may think in its content: for such a model, never seen
    yet, `ask` holds its text until it knows (others stream at once; a bare </think> from
    them is learned for their next reply)."""
    return bool(_THINKING_NAMES.search(model))


# How many models each list of ThinkHabits remembers (the most recent).
HABITS_KEPT = 200


class ThinkHabits:
    """What the app has seen of each model's tags, kept in the app state: whether its
    replies start thinking without an opening tag."""

    def __init__(self, state: StateFile | None) -> None:
        self.state = state

    def of(self, provider: str, model: str) -> Unopened:
        if self.state is None:
            return Unopened.UNKNOWN
        key = f"{provider}/{model}"
        if key in self.state.current.think_unopened:
            return Unopened.YES
        if key in self.state.current.think_plain:
            return Unopened.NO
        return Unopened.UNKNOWN

    def learn(self, provider: str, model: str, splitter: ThinkSplitter, answered: bool) -> None:
        """After a finished reply: a bare closing tag says YES; an answer with no tags at all, NO."""
        if self.state is None or not (splitter.saw_bare_close or (answered and not splitter.saw_tags)):
            return
        key = f"{provider}/{model}"
        current = self.state.current
        unopened = tuple(k for k in current.think_unopened if k != key)
        plain = tuple(k for k in current.think_plain if k != key)
        if splitter.saw_bare_close:
            unopened = (*unopened, key)[-HABITS_KEPT:]
        else:
            plain = (*plain, key)[-HABITS_KEPT:]
        self.state.update(replace(current, think_unopened=unopened, think_plain=plain))
