"""The project's own exceptions share one base, so a caller can tell ours from a bug."""

from __future__ import annotations


class DesktopChatError(Exception):
    """Something the user must be told about; the message says what, in their words."""


class SaveFailed(DesktopChatError):
    """A change could not be written to disk (full, read-only, damaged); nothing else was lost."""
