"""Fitting a conversation's attachments into the model's context.

The API keeps no state: every request carries the whole branch again, its documents and
images too. `plan` decides, for one request, how much of each document goes (documents
share what the conversation's text leaves of the context, none cut below what it needs
if it fits) and which images of earlier messages are left out (the newest kept first;
the images of the message being sent always go). Tokens are counted without a tokenizer,
on the safe side: a token is taken as 3 characters (English prose runs ~4) and an image
as IMAGE_TOKENS (a 2048 px image costs OpenAI's high detail ~1,100 tokens, llama.cpp's
vision models 500-1,500).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .conversation import AttachmentPart, Message

CHARS_PER_TOKEN = 3
IMAGE_TOKENS = 1_500
# At least this much of each document goes, even where the context is tight.
MIN_DOCUMENT_CHARS = 2_000
# And of each tool's result.
MIN_RESULT_CHARS = 1_000


def reply_room(context: int) -> int:
    """Tokens left free for the reply."""
    return min(4_096, context // 4)


@dataclass
class Plan:
    # (message id, digest) -> characters of that document sent (absent: all of it)
    document_chars: dict[tuple[int, str], int] = field(default_factory=dict)
    # (message id, digest) of images left out
    dropped_images: set[tuple[int, str]] = field(default_factory=set)
    # For the user: what was cut or left out, of the message being sent and before.
    notes: list[str] = field(default_factory=list)
    # For the user: results of this reply's tool calls cut to fit (core/session.py).
    tool_notes: list[str] = field(default_factory=list)


def plan(history: Sequence[Message], context: int, model: str, assumed: bool, extra_chars: int = 0) -> Plan:
    """How `history` (the messages to send, the last one the newest) fits `context` tokens.
    `assumed`: the context is the settings' default, not the provider's word.
    `extra_chars`: text sent besides the messages' own (a system prompt, reasoning)."""
    result = Plan()
    attached = [(m, p) for m in history for p in m.parts if isinstance(p, AttachmentPart) and m.role == "user"]
    if not attached:
        return result
    newest = max((m.id for m, _ in attached), default=-1)
    budget = (context - reply_room(context)) * CHARS_PER_TOKEN
    budget -= extra_chars + sum(len(m.content) for m in history)
    image_chars = IMAGE_TOKENS * CHARS_PER_TOKEN
    # Images: the newest message's always; earlier ones, newest first, in up to half of
    # what the text leaves.
    images = [(m, p) for m, p in attached if p.image]
    kept = sum(1 for m, _ in images if m.id == newest)
    budget -= kept * image_chars
    room_for_old = max(0, budget // 2)
    dropped = 0
    for message, part in reversed([(m, p) for m, p in images if m.id != newest]):
        if room_for_old >= image_chars:
            room_for_old -= image_chars
            budget -= image_chars
        else:
            result.dropped_images.add((message.id, part.digest))
            dropped += 1
    # Documents share what is left: the short ones whole, the long ones an equal share.
    documents = sorted(((m, p) for m, p in attached if not p.image), key=lambda mp: len(mp[1].text))
    left = max(0, budget)
    for index, (message, part) in enumerate(documents):
        share = max(MIN_DOCUMENT_CHARS, left // (len(documents) - index))
        if len(part.text) <= share:
            left -= len(part.text)
            continue
        result.document_chars[(message.id, part.digest)] = share
        left = max(0, left - share)
        if message.id == newest:
            result.notes.append(
                f"{part.name} was cut to its first {share:,} of {len(part.text):,} characters to fit "
                f"{context_words(model, context, assumed)}."
            )
    if dropped:
        images_word = "image" if dropped == 1 else "images"
        result.notes.append(
            f"{dropped} {images_word} from earlier messages {'was' if dropped == 1 else 'were'} left out to fit {context_words(model, context, assumed)}."
        )
    return result


def fit_results(lengths: dict[str, int], room: int) -> dict[str, int]:
    """How many characters of each tool result (by call id) go when they share `room`
    characters: the short ones whole, the long ones an equal share of what is left, none
    cut below MIN_RESULT_CHARS. Only the results cut are in the answer."""
    cut: dict[str, int] = {}
    left = max(0, room)
    ordered = sorted(lengths.items(), key=lambda item: item[1])
    for index, (call_id, length) in enumerate(ordered):
        share = max(MIN_RESULT_CHARS, left // (len(ordered) - index))
        if length <= share:
            left -= length
            continue
        cut[call_id] = share
        left = max(0, left - share)
    return cut


def context_words(model: str, context: int, assumed: bool) -> str:
    if assumed:
        return (
            f"the {context:,} tokens of context assumed for {model} (its provider does not say; change it in"
            " Settings → Chat)"
        )
    return f"{model}'s context ({context:,} tokens)"
