"""Opening the user's profile: settings and history, with whatever is broken kept aside."""

from __future__ import annotations

import time
from dataclasses import dataclass

from .paths import AppPaths
from .settings import Settings, load_settings
from .store import HistoryStore, StoreError, recover_history

# Present while the app has the history open: found at start, the last run did not end cleanly.
IN_USE = "history.db.in-use"
# Below this size the integrity check costs little enough to run at every start.
CHECK_ALWAYS_BELOW = 64 * 1024 * 1024


def open_history(paths: AppPaths, notices: list[str]) -> HistoryStore:
    """Open the history; a damaged file is kept aside, what SQLite can read is recovered.

    Raises StoreError only for a file written by a newer version (left untouched).
    """
    path = paths.history_file
    marker = paths.data_dir / IN_USE
    crashed = marker.exists()
    problem = None
    store: HistoryStore | None = None
    try:
        store = HistoryStore(path)
        if crashed or path.stat().st_size < CHECK_ALWAYS_BELOW:
            problem = store.check()
    except StoreError as exc:
        if "newer version" in str(exc):
            raise
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
    marker.touch(mode=0o600)
    return store


def close_history(paths: AppPaths, store: HistoryStore) -> None:
    store.close()
    (paths.data_dir / IN_USE).unlink(missing_ok=True)


@dataclass
class Profile:
    settings: Settings
    store: HistoryStore
    notices: list[str]


def open_profile(paths: AppPaths) -> Profile:
    """Read settings and history; whatever is broken is kept aside and the user told.

    Raises StoreError only for a history file written by a newer version.
    """
    paths.ensure()
    notices: list[str] = []
    loaded = load_settings(paths.settings_file)
    if loaded.problem:
        where = f" The original was kept as {loaded.backup}." if loaded.backup else ""
        notices.append(f"Your settings file could not be used ({loaded.problem}); defaults are in use.{where}")
    notices.extend(f"settings.toml: {w}" for w in loaded.warnings)
    store = open_history(paths, notices)
    store.purge_trash()  # conversations deleted last time, past their Undo
    interrupted = store.mark_interrupted()
    if interrupted:
        notices.append(
            f"{interrupted} {'reply was' if interrupted == 1 else 'replies were'} cut off when the app last "
            "closed; what had arrived is kept, with Retry."
        )
    return Profile(loaded.settings, store, notices)
