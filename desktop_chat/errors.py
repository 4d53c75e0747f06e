"""The project's own exceptions share one base, so a caller can tell ours from a bug; and the
one way a change the disk refuses is said to the user."""

from __future__ import annotations

from collections.abc import Callable


class DesktopChatError(Exception):
    """Something the user must be told about; the message says what, in their words."""


class SaveFailed(DesktopChatError):
    """A change could not be written to disk (full, read-only, damaged); nothing else was lost."""


def try_to_save(change: Callable[[], object], tell: Callable[[str], None]) -> bool:
    """The one way to make a change to the user's files from what they did: run it, and when
    the disk refuses it, tell them why (a notice) and go on. False when it was refused."""
    try:
        change()
    except SaveFailed as exc:
        tell(str(exc))
        return False
    return True
