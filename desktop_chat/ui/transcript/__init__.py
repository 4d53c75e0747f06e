"""The transcript: one view per message, in a list that lays out only what is in view."""

from .message_view import Look, MessageItem, MessageView
from .view import TranscriptView

__all__ = ["Look", "MessageItem", "MessageView", "TranscriptView"]
