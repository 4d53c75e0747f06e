"""The history store on a real SQLite file: schema, branches, crash recovery, refusal of newer files."""

from __future__ import annotations

import sqlite3
import stat

import pytest

from desktop_chat.core.conversation import INTERRUPTED, STREAMING, version_label
from desktop_chat.core.store import MIGRATIONS, HistoryStore, StoreError


@pytest.fixture
def store(tmp_path):
    s = HistoryStore(tmp_path / "history.db")
    yield s
    s.close()


def test_schema_wal_foreign_keys_and_private_file(tmp_path, store):
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"conversations", "messages"} <= tables
    mode = stat.S_IMODE((tmp_path / "history.db").stat().st_mode)
    assert mode == 0o600


def test_branches_and_versions(store):
    conv = store.create_conversation("t", "P", "m")
    u1 = store.add_message(conv.id, None, "user", "hi")
    a1 = store.add_message(conv.id, u1.id, "assistant", "first")
    a2 = store.add_message(conv.id, u1.id, "assistant", "second")  # regenerate
    tree = store.tree(conv.id)
    assert [m.content for m in tree.path_to(store.conversation(conv.id).current_leaf_id)] == ["hi", "second"]
    assert version_label(tree, tree.messages[a1.id]) == (1, 2)
    assert version_label(tree, tree.messages[a2.id]) == (2, 2)
    # Edit the user message: a sibling, and its own branch.
    u2 = store.add_message(conv.id, None, "user", "hello")
    store.add_message(conv.id, u2.id, "assistant", "reply to edit")
    store.select_branch(conv.id, u1.id)
    tree = store.tree(conv.id)
    assert [m.content for m in tree.path_to(store.conversation(conv.id).current_leaf_id)] == ["hi", "second"]
    store.select_branch(conv.id, a1.id)
    assert store.conversation(conv.id).current_leaf_id == a1.id


def test_delete_cascades(store):
    conv = store.create_conversation("t")
    u = store.add_message(conv.id, None, "user", "x")
    store.add_message(conv.id, u.id, "assistant", "y")
    store.delete_conversation(conv.id)
    assert store.db.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0


def test_streaming_reply_left_by_a_crash_becomes_interrupted(tmp_path):
    first = HistoryStore(tmp_path / "h.db")
    conv = first.create_conversation("t")
    u = first.add_message(conv.id, None, "user", "q")
    r = first.add_message(conv.id, u.id, "assistant", "", status=STREAMING)
    first.update_message(r.id, content="partial")
    first.close()  # as after kill -9, nothing else was written
    second = HistoryStore(tmp_path / "h.db")
    assert second.mark_interrupted() == 1
    again = second.message(r.id)
    assert again.status == INTERRUPTED and again.content == "partial"
    second.close()


def test_newer_schema_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "h.db"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.execute("CREATE TABLE future (x)")
    db.commit()
    db.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="newer version"):
        HistoryStore(path)
    assert path.read_bytes() == before


def test_corrupt_file_gives_a_clear_error(tmp_path):
    path = tmp_path / "h.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="cannot be read"):
        HistoryStore(path)


def test_conversations_by_last_activity(store):
    a = store.create_conversation("a")
    b = store.create_conversation("b")
    store.add_message(a.id, None, "user", "newer activity")
    assert [c.title for c in store.conversations()] == ["a", "b"]
    store.touch(b.id)
    assert [c.title for c in store.conversations()] == ["b", "a"]
