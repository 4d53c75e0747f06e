"""Conversations and messages as plain data, and the branch tree that versions make."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# Message statuses. A reply is "streaming" while it arrives; anything else is final.
COMPLETE = "complete"
STREAMING = "streaming"
STOPPED = "stopped"  # the user pressed Stop
FAILED = "failed"  # the provider or the network failed; `error` says how
INTERRUPTED = "interrupted"  # the app died while it streamed


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


@dataclass
class MessageTree:
    """All messages of one conversation; edits and regenerations are siblings."""

    messages: dict[int, Message] = field(default_factory=dict)

    @classmethod
    def of(cls, messages: Iterable[Message]) -> MessageTree:
        return cls({m.id: m for m in messages})

    def children(self, parent_id: int | None) -> list[Message]:
        return sorted(
            (m for m in self.messages.values() if m.parent_id == parent_id),
            key=lambda m: (m.created_at, m.id),
        )

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
        current = message_id
        while True:
            kids = self.children(current)
            if not kids:
                return current
            current = kids[-1].id


def version_label(tree: MessageTree, message: Message) -> tuple[int, int]:
    """(position, count) among the message's versions, 1-based, as "< 2/3 >" shows it."""
    siblings = tree.siblings(message.id)
    ids = [m.id for m in siblings]
    return ids.index(message.id) + 1, len(ids)
