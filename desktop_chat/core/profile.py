"""Opening the user's history, with whatever is broken kept aside and the user told."""

from __future__ import annotations

import time

from .paths import AppPaths
from .recovery import recover_history
from .store import HistoryStore, LeftUntouched, Progress, StoreError, StoreWriteError, check_marker

# Present while the app has the history open: found at start, the last run did not end cleanly.
IN_USE = "history.db.in-use"
# Below this size the integrity check costs little enough to run at every start.
CHECK_ALWAYS_BELOW = 64 * 1024 * 1024


def open_history(
    paths: AppPaths, notices: list[str], *, mark_in_use: bool = False, progress: Progress | None = None
) -> HistoryStore:
    """Open the history; a damaged file is kept aside, what can be read is recovered.

    The window marks the file in use while it has it open (`mark_in_use`), so that a
    crash is noticed at the next start; the command line's short visits do not.
    A schema update keeps a copy of the file first (`progress` is told how both go).
    Raises LeftUntouched for a file this version cannot use as it is.
    """
    path = paths.history_file
    paths.ensure()
    suspect = (paths.data_dir / IN_USE).exists() or check_marker(path).exists()
    problem = None
    store: HistoryStore | None = None
    try:
        store = HistoryStore(path, progress=progress)
        if store.backup is not None:
            notices.append(
                f"Your history was updated for this version of Desktop Chat. A copy from before is kept as "
                f"{store.backup} (delete it when you no longer need it)."
            )
        if suspect or path.stat().st_size < CHECK_ALWAYS_BELOW:
            problem = store.check()
    except LeftUntouched:
        raise
    except StoreError as exc:
        problem = str(exc)
    if problem:
        if store is not None:
            store.close()
        aside = path.with_name(f"history.db.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            source = path.with_name(path.name + suffix)
            if source.exists():
                source.replace(aside.with_name(aside.name + suffix))
        store = HistoryStore(path)
        conversations, messages = recover_history(aside, store)
        notices.append(
            f"Your history file was damaged ({problem[:120]}). It was kept as {aside}; "
            f"{conversations} conversations and {messages} messages were recovered from it."
        )
    assert store is not None
    check_marker(path).unlink(missing_ok=True)
    if mark_in_use:
        (paths.data_dir / IN_USE).touch(mode=0o600)
    return store


def close_history(paths: AppPaths, store: HistoryStore, *, marked_in_use: bool = False) -> None:
    store.close()
    if marked_in_use:
        (paths.data_dir / IN_USE).unlink(missing_ok=True)


def tidy_history(store: HistoryStore, notices: list[str]) -> None:
    """What the window does once at start: purge the trash past its Undo, and mark
    replies a crash left streaming as interrupted (and say so)."""
    try:
        store.purge_trash()
        interrupted = store.mark_interrupted()
    except StoreWriteError as exc:
        notices.append(str(exc))
        return
    if interrupted:
        notices.append(
            f"{interrupted} {'reply was' if interrupted == 1 else 'replies were'} cut off when the app last "
            "closed; what had arrived is kept, with Retry."
        )
