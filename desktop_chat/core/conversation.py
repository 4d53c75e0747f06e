"""Conversations and messages as plain data, and the branch tree that versions make."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

# Message statuses. A reply is "streaming" while it arrives; anything else is final.
COMPLETE = "complete"
STREAMING = "streaming"
STOPPED = "stopped"  # the user pressed Stop
FAILED = "failed"  # the provider or the network failed; `error` says how
INTERRUPTED = "interrupted"  # the app died while it streamed


@dataclass(frozen=True)
class TextPart:
    """What the message says: the answer of a reply, the words of a user."""

    text: str
    kind = "text"


@dataclass(frozen=True)
class ReasoningPart:
    """The model thinking before (or between) what it says. Never sent back as the answer,
    never copied with it."""

    text: str
    # How long the model thought, from the request to the first word of the answer; None
    # while it still thinks, or when nobody measured (imports).
    seconds: float | None = None
    # Fields the provider wants back unchanged (OpenRouter's reasoning_details, thought
    # signatures): kept as they came.
    opaque: dict[str, Any] | None = None
    kind = "reasoning"


@dataclass(frozen=True)
class AttachmentPart:
    """A file the user attached: an image (sent to the model as itself) or a document
    (sent as its text). The bytes are kept by their SHA-256 (core/attachments.py)."""

    name: str
    mime: str  # of what is kept and sent: image/png, image/jpeg, text/plain
    digest: str
    size: int
    text: str = ""  # a document's text
    width: int | None = None  # an image's size as sent
    height: int | None = None
    source: str = ""  # what a document was (application/pdf, text/plain)
    kind = "attachment"

    @property
    def image(self) -> bool:
        return self.mime.startswith("image/")


# What became of a tool call (ToolCallPart.status).
TOOL_ASKED = "asked"  # waiting for the user's consent
TOOL_RUNNING = "running"
TOOL_DONE = "done"
TOOL_ERROR = "error"  # the tool said it failed, or the call did (`result` says how)
TOOL_DECLINED = "declined"  # the user said no
TOOL_NOT_RUN = "not_run"  # stopped, or the app closed, before it ran; or it could not be


@dataclass(frozen=True)
class ToolCallPart:
    """A tool the model called during a reply, and what became of it (core/tools/use.py).
    A reply that used tools is its rounds in order: text, calls, text after the results."""

    call_id: str  # the model's id for the call, which the result answers
    name: str  # the function name the model was given
    arguments: str  # JSON, as the model wrote it
    server: str = ""  # the tool server's name, as the user knows it
    server_id: str = ""
    tool: str = ""  # the tool's own name on its server
    status: str = TOOL_ASKED
    result: str = ""  # what the tool said, as the model is told; or why it did not run
    images: tuple[AttachmentPart, ...] = ()  # images the tool returned, kept as attachments
    kind = "tool_call"

    def settled(self, message_status: str) -> ToolCallPart:
        """As it stands once its reply is final: a call still waiting (the app closed
        before the user answered, or before it ran) did not run."""
        if message_status != STREAMING and self.status == TOOL_ASKED:
            return replace(self, status=TOOL_NOT_RUN, result=self.result or NOT_RUN_RESULT)
        if message_status != STREAMING and self.status == TOOL_RUNNING:
            return replace(self, status=TOOL_NOT_RUN, result=self.result or STOPPED_RUNNING_RESULT)
        return self


# What each state is called, on a call's card and in exports.
TOOL_STATUS_WORDS = {
    TOOL_ASKED: "Waiting for you",
    TOOL_RUNNING: "Running…",
    TOOL_DONE: "Done",
    TOOL_ERROR: "Failed",
    TOOL_DECLINED: "Declined",
    TOOL_NOT_RUN: "Not run",
}

NOT_RUN_RESULT = "The tool was not run: the reply was stopped before it ran."
# (It may have done some of its work: a server told to cancel may not undo it.)
STOPPED_RUNNING_RESULT = "The reply was stopped while the tool ran; it may have done part of its work."

# A message is an ordered list of parts.
Part = TextPart | ReasoningPart | AttachmentPart | ToolCallPart


@dataclass
class Message:
    id: int
    conversation_id: int
    parent_id: int | None
    role: str  # user, assistant
    content: str
    status: str = COMPLETE
    error: str | None = None
    provider: str | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    created_at: float = 0.0
    finish_reason: str | None = None
    uid: str = ""
    # JSON of what an import could not show (kept, never dropped), or None.
    extra: str | None = None
    # The message's parts in order when it has more than its text (a reply that thought);
    # empty when `content` is all of it. `content` is always the text parts joined: the
    # answer, as it is copied, searched, exported as the answer and sent back to the model.
    parts: tuple[Part, ...] = ()

    @property
    def reasoning(self) -> ReasoningPart | None:
        """The message's reasoning as one part (its pieces joined), or None."""
        found = [p for p in self.parts if isinstance(p, ReasoningPart)]
        if not found:
            return None
        if len(found) == 1:
            return found[0]
        seconds = [p.seconds for p in found if p.seconds is not None]
        return ReasoningPart("\n\n".join(p.text for p in found if p.text), sum(seconds) if seconds else None)


def thought_label(part: ReasoningPart) -> str:
    """ "Thought for 12 s", as the transcript and the exports say it."""
    if part.seconds is None:
        return "Thought"
    if part.seconds < 1:
        return "Thought for less than a second"
    if part.seconds < 60:
        return f"Thought for {round(part.seconds)} s"
    minutes, seconds = divmod(round(part.seconds), 60)
    return f"Thought for {minutes} min {seconds} s" if seconds else f"Thought for {minutes} min"


def text_of(parts: Sequence[Part]) -> str:
    """A message's text, as `content` keeps it: its text parts, a blank line between the
    rounds of a reply that used tools."""
    return "\n\n".join(p.text for p in parts if isinstance(p, TextPart) and p.text)


def tool_calls(parts: Sequence[Part], message_status: str = COMPLETE) -> list[ToolCallPart]:
    return [p.settled(message_status) for p in parts if isinstance(p, ToolCallPart)]


@dataclass(frozen=True)
class Round:
    """One round of a reply that used tools: what the model said, then the calls it made
    (the last round, the answer, makes none)."""

    text: str
    calls: tuple[ToolCallPart, ...] = ()


def rounds_of(parts: Sequence[Part], message_status: str = COMPLETE) -> list[Round]:
    """A reply's rounds, in order; [] for a reply that called no tool."""
    if not any(isinstance(p, ToolCallPart) for p in parts):
        return []
    rounds: list[Round] = []
    texts: list[str] = []
    calls: list[ToolCallPart] = []
    for part in parts:
        if isinstance(part, ToolCallPart):
            calls.append(part.settled(message_status))
        elif isinstance(part, TextPart):
            if calls:
                rounds.append(Round("\n\n".join(texts), tuple(calls)))
                texts, calls = [], []
            if part.text:
                texts.append(part.text)
    if texts or calls:
        rounds.append(Round("\n\n".join(texts), tuple(calls)))
    return rounds


def parts_with_text(parts: Sequence[Part], text: str) -> tuple[Part, ...]:
    """`parts` with its text being `text` (in the last text part, or a new one at the end);
    () when nothing but text is left."""
    others = [p for p in parts if not isinstance(p, TextPart)]
    if not others:
        return ()
    result: list[Part] = []
    placed = False
    for part in reversed(parts):
        if isinstance(part, TextPart):
            if not placed:
                result.append(TextPart(text))
                placed = True
        else:
            result.append(part)
    result.reverse()
    if not placed:
        result.append(TextPart(text))
    return tuple(result)


@dataclass
class Conversation:
    id: int
    title: str
    created_at: float
    updated_at: float
    provider: str | None = None
    model: str | None = None
    system_prompt: str = ""
    temperature: float | None = None
    current_leaf_id: int | None = None
    pinned: bool = False
    # Stable identity across export and import ("chatgpt:<id>" for imported ones).
    uid: str = ""
    # Its model is offered the tools of the enabled tool servers.
    tools: bool = True


@dataclass
class MessageTree:
    """All messages of one conversation; edits and regenerations are siblings."""

    messages: dict[int, Message] = field(default_factory=dict)
    # parent id -> children in creation order; built once, kept up to date by add().
    _children: dict[int | None, list[Message]] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, messages: Iterable[Message]) -> MessageTree:
        return cls({m.id: m for m in messages})

    def add(self, message: Message) -> None:
        """Add or replace a message."""
        replaced = message.id in self.messages
        self.messages[message.id] = message
        if replaced:
            self._children = None
        elif self._children is not None:
            self._children.setdefault(message.parent_id, []).append(message)

    def _index(self) -> dict[int | None, list[Message]]:
        if self._children is None:
            children: dict[int | None, list[Message]] = {}
            for message in sorted(self.messages.values(), key=lambda m: (m.created_at, m.id)):
                children.setdefault(message.parent_id, []).append(message)
            self._children = children
        return self._children

    def children(self, parent_id: int | None) -> list[Message]:
        return list(self._index().get(parent_id, ()))

    def siblings(self, message_id: int) -> list[Message]:
        return self.children(self.messages[message_id].parent_id)

    def path_to(self, leaf_id: int | None) -> list[Message]:
        """Root-to-leaf list of the messages on the branch that ends at leaf_id."""
        path: list[Message] = []
        current = self.messages.get(leaf_id) if leaf_id is not None else None
        while current is not None:
            path.append(current)
            current = self.messages.get(current.parent_id) if current.parent_id is not None else None
        path.reverse()
        return path

    def latest_leaf_under(self, message_id: int) -> int:
        """Follow the newest child down from message_id: the branch a version switch shows."""
        index = self._index()
        current = message_id
        while index.get(current):
            current = index[current][-1].id
        return current


def version_label(tree: MessageTree, message: Message) -> tuple[int, int]:
    """(position, count) among the message's versions, 1-based, as "< 2/3 >" shows it."""
    siblings = tree._index().get(message.parent_id, [])
    for position, sibling in enumerate(siblings, 1):
        if sibling.id == message.id:
            return position, len(siblings)
    return 1, 1
