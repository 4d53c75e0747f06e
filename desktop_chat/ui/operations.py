"""One way to change the history or the settings from the UI: run the change, and when
the disk refuses it, tell the user in the window and go on. (Who listens for "history
changed" is told by the store itself: HistoryStore.subscribe.)"""

from __future__ import annotations

from collections.abc import Callable

from desktop_chat.errors import try_to_save


class Writes:
    """try_to_save with the window's notice bar: what widgets are given to make changes."""

    def __init__(self, notice: Callable[[str], None]) -> None:
        self.notice = notice

    def run(self, change: Callable[[], object]) -> bool:
        """Run `change`; False (and the reason shown) if it could not be saved."""
        return try_to_save(change, self.notice)
