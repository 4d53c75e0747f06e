"""A decade of history: 100,000 conversations and 1,000,000 messages.

Figures:
- search_ms: full-text search, first page of 50 results (median over 20 queries, after
  one untimed pass over them so that the file is in the OS cache; a first search after a
  cold boot reads from disk)
- open_5k_ms: opening a 5,000-message conversation in the real window, until painted (median of 5)
- startup_delta_s: process start to first painted window, big history minus empty history (medians of 3)
- bytes_per_message: the history file's size (with its index) per message
- migrate_s: opening the history as the app before typed parts left it (schema 3) in this
  version: the copy kept first and the migration; copy_s: a plain copy of the same file
  (shutil.copyfile), and migrate_ratio the two over each other
Every tenth reply has reasoning (a typed part, searched too). The generated file is kept in
~/.cache/desktop-chat-benchmarks/, named by the schema it was made with, and reused.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

WORDS = (
    "apple river mountain cloud python stream window history search offline desktop native model token "
    "reply answer question garden kitchen recipe travel music guitar physics chemistry database index "
    "server client network keyboard shortcut theme dark light branch version export import"
).split()
QUERIES = [
    "python",
    "river",
    "garden recipe",
    "database index",
    "guitar",
    "physics",
    "token stream",
    "export",
    "mountain cloud",
    "keyboard",
    "theme",
    "offline",
    "server",
    "travel",
    "music",
    "chem",
    "netw",
    "version",
    "apple",
    "kitchen",
]


def generate(path: Path, conversations: int, messages_each: int, long_one: int) -> None:
    from desktop_chat.core.store import HistoryStore

    rng = random.Random(42)
    store = HistoryStore(path)
    db = store.db
    now = time.time()
    message_id = 0
    with db:
        db.execute("BEGIN")
        for c in range(1, conversations + 1):
            created = now - rng.uniform(0, 10 * 365 * 86400)
            count = long_one if c == 1 else messages_each
            rows = []
            parent = None
            for i in range(count):
                message_id += 1
                text = " ".join(rng.choices(WORDS, k=rng.randint(8, 40)))
                rows.append(
                    (message_id, c, parent, "user" if i % 2 == 0 else "assistant", text, created + i, f"m{message_id}")
                )
                parent = message_id
            db.execute(
                "INSERT INTO conversations (id, title, created_at, updated_at, uid, current_leaf_id) VALUES (?, ?, ?, ?, ?, ?)",
                (c, " ".join(rng.choices(WORDS, k=4)), created, created + count, f"c{c}", parent),
            )
            db.executemany(
                "INSERT INTO messages (id, conversation_id, parent_id, role, content, created_at, uid) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
    # Every tenth reply thought first: its reasoning and its text as typed parts.
    db.execute(
        "INSERT INTO message_parts (message_id, position, kind, text, data) "
        "SELECT id, 0, 'reasoning', content || ' ' || content, '{\"seconds\": 6.0}' FROM messages "
        "WHERE role = 'assistant' AND id % 10 = 0"
    )
    db.execute(
        "INSERT INTO message_parts (message_id, position, kind, text) "
        "SELECT id, 1, 'text', content FROM messages WHERE role = 'assistant' AND id % 10 = 0"
    )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()


def history_file(quick: bool) -> Path:
    size = (1_000, 10, 500) if quick else (100_000, 10, 5_000)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "desktop-chat-benchmarks"
    cache.mkdir(parents=True, exist_ok=True)
    from desktop_chat.core.migrations import MIGRATIONS

    path = cache / f"history-s{len(MIGRATIONS)}-{size[0]}x{size[1]}-{size[2]}.db"
    if not path.exists():
        partial = path.with_suffix(".partial")
        for leftover in partial.parent.glob(partial.name + "*"):
            leftover.unlink()
        started = time.perf_counter()
        # One long conversation, then the rest; 1,000,000 messages in all for the full run.
        generate(partial, size[0], size[1], size[2])
        partial.replace(path)
        print(f"  (generated {path} in {time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return path


def measure_search(path: Path) -> float:
    from desktop_chat.core.store import HistoryStore

    store = HistoryStore(path)
    for query in QUERIES:  # one untimed pass: the file's pages in the OS cache, as after a first search
        store.search_messages(query, limit=50)
    times = []
    for query in QUERIES:
        t0 = time.perf_counter()
        hits = store.search_messages(query, limit=50)
        times.append((time.perf_counter() - t0) * 1000)
        assert hits, query
    store.close()
    return statistics.median(times)


def measure_open(path: Path, repeats: int) -> float:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from desktop_chat.core.services import Services
    from desktop_chat.core.settings import Settings
    from desktop_chat.core.store import HistoryStore
    from desktop_chat.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication([])
    store = HistoryStore(path)
    window = MainWindow(Services.build(Settings(), store))
    window.resize(1100, 720)
    window.show()
    app.processEvents()
    times = []
    for _ in range(repeats):
        window.open_conversation(2)  # somewhere else first, so the long one renders afresh
        app.processEvents()
        t0 = time.perf_counter()
        window.open_conversation(1)
        window.chat_view.viewport().repaint()
        app.processEvents()
        times.append((time.perf_counter() - t0) * 1000)
    assert len(store.tree(1).messages) >= 500
    window.close()
    store.close()
    return statistics.median(times)


def first_paint_s(home: Path) -> float:
    """Process start to the first painted window, as the startup benchmark measures it."""
    from .startup import launch

    return launch("app", home)["first_paint"]


def measure_startup_delta(path: Path, repeats: int) -> tuple[float, float]:
    from .startup import make_profile

    with tempfile.TemporaryDirectory() as folder:
        empty_folder, big_folder = Path(folder) / "empty", Path(folder) / "big"
        empty_folder.mkdir()
        big_folder.mkdir()
        empty = make_profile(empty_folder, empty_history=True)
        big = make_profile(big_folder, history=path)
        first_paint_s(empty)  # untimed: bytecode and file caches, as for any later start
        first_paint_s(big)
        empty_times, big_times = [], []
        for _ in range(repeats):
            empty_times.append(first_paint_s(empty))
            big_times.append(first_paint_s(big))
        return statistics.median(big_times) - statistics.median(empty_times), statistics.median(empty_times)


def measure_migration(path: Path) -> tuple[float, float, int]:
    """(seconds to copy the file, seconds to open it at schema 3 in this version, progress
    reports) on a copy made schema 3 again (its parts dropped, as before they existed)."""
    import shutil
    import sqlite3

    from desktop_chat.core.store import HistoryStore

    with tempfile.TemporaryDirectory(dir=path.parent) as folder:
        plain = Path(folder) / "plain.db"
        t0 = time.perf_counter()
        shutil.copyfile(path, plain)
        copy_s = time.perf_counter() - t0
        old = Path(folder) / "history.db"
        plain.replace(old)
        db = sqlite3.connect(old)
        db.executescript(
            "DROP TABLE parts_fts; DROP TABLE message_parts; ALTER TABLE conversations DROP COLUMN tools;"
            " PRAGMA user_version = 3;"
        )
        db.close()
        reports: list[float] = []
        t0 = time.perf_counter()
        store = HistoryStore(old, progress=lambda _what, fraction: reports.append(fraction))
        migrate_s = time.perf_counter() - t0
        assert store.backup is not None and store.db.execute("PRAGMA user_version").fetchone()[0] > 3
        store.close()
    return copy_s, migrate_s, len(reports)


def run(quick: bool = False) -> dict[str, object]:
    from desktop_chat.core.store import HistoryStore

    path = history_file(quick)
    store = HistoryStore(path)
    messages = store.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    conversations = store.count_conversations()
    long_messages = len(store.tree(1).messages)
    store.close()
    size = path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + "-*"))
    delta, empty = measure_startup_delta(path, 1 if quick else 3)
    copy_s, migrate_s, reports = measure_migration(path)
    return {
        "conversations": conversations,
        "messages": messages,
        "search_ms": round(measure_search(path), 2),
        "open_5k_ms": round(measure_open(path, 2 if quick else 5), 1),
        "long_conversation_messages": long_messages,
        "startup_delta_s": round(delta, 3),
        "empty_first_paint_s": round(empty, 3),
        "bytes_per_message": round(size / messages),
        "migrate_s": round(migrate_s, 2),
        "copy_s": round(copy_s, 2),
        "migrate_ratio": round(migrate_s / copy_s, 2),
        "migrate_progress_reports": reports,
    }
