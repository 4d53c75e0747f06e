"""The history store on a real SQLite file: schema, branches, crash recovery, refusal of newer files."""

from __future__ import annotations

import json
import sqlite3
import stat

import pytest

from desktop_chat.core.conversation import INTERRUPTED, STREAMING, version_label
from desktop_chat.core.migrations import MIGRATIONS, m001_initial
from desktop_chat.core.store import HistoryStore, StoreError, UpdateBlocked


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


def test_old_schema_is_migrated_and_indexed(tmp_path):
    # A history written by the first release (schema 1) opens in this one, searchable.
    path = tmp_path / "old.db"
    db = sqlite3.connect(path)
    m001_initial(db)
    db.execute("INSERT INTO conversations (id, title, created_at, updated_at) VALUES (1, 'old', 1, 1)")
    db.execute(
        "INSERT INTO messages (conversation_id, role, content, created_at) VALUES (1, 'user', 'ancient words', 1)"
    )
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    store = HistoryStore(path)
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    hits = store.search_messages("ancient")
    assert [h.title for h in hits] == ["old"] and "<b>ancient</b>" in hits[0].snippet
    assert store.conversations()[0].uid  # every old row got a stable id
    store.close()


def test_schema_after_migrations(store):
    columns = {r[1] for r in store.db.execute("PRAGMA table_info(conversations)")}
    assert {"pinned", "uid", "deleted_at", "current_leaf_id"} <= columns
    triggers = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
    assert triggers == {
        "messages_fts_insert",
        "messages_fts_delete",
        "messages_fts_update",
        "parts_fts_insert",
        "parts_fts_delete",
    }


def schema_3_history(path):
    """A history as the app before typed parts wrote it, with a ChatGPT import's thoughts."""
    from desktop_chat.core.store import HistoryStore as Store

    store = Store(path)
    conversation = store.create_conversation("Imported")
    question = store.add_message(conversation.id, None, "user", "Why is the sky blue?")
    thoughts = {"content_type": "thoughts", "thoughts": [{"summary": "Scattering", "content": "Rayleigh."}]}
    store.db.execute(
        "INSERT INTO messages (conversation_id, parent_id, role, content, created_at, uid, extra) "
        "VALUES (?, ?, 'assistant', '[thoughts not shown]', 2, 'x', ?)",
        (conversation.id, question.id, json.dumps({"unsupported": {"content_type": "thoughts", "data": thoughts}})),
    )
    store.db.executescript(
        "DROP TABLE parts_fts; DROP TABLE message_parts; ALTER TABLE conversations DROP COLUMN tools;"
        " PRAGMA user_version = 3; PRAGMA wal_checkpoint(TRUNCATE);"
    )
    store.close()


def test_typed_parts_migration_keeps_a_copy_first_and_says_how_far_it_is(tmp_path):
    path = tmp_path / "history.db"
    schema_3_history(path)
    before = sqlite3.connect(path).execute("SELECT count(*) FROM messages").fetchone()[0]
    told: list[tuple[str, float]] = []
    store = HistoryStore(path, progress=lambda what, fraction: told.append((what, fraction)))
    # A copy of the file as it was, private, at schema 3.
    assert store.backup == tmp_path / f"history.db.before-schema-{len(MIGRATIONS)}"
    assert stat.S_IMODE(store.backup.stat().st_mode) == 0o600
    copy = sqlite3.connect(store.backup)
    assert copy.execute("PRAGMA user_version").fetchone()[0] == 3
    assert copy.execute("SELECT count(*) FROM messages").fetchone()[0] == before
    copy.close()
    # Each step told in order, each from its start to its end.
    steps = list(dict.fromkeys(what for what, _ in told))
    assert steps == ["Keeping a copy of your history", "Updating your history for this version"]
    for step in steps:
        fractions = [fraction for what, fraction in told if what == step]
        assert fractions == sorted(fractions) and fractions[-1] == 1.0
    # The import's thoughts are reasoning now, searchable as such.
    thought = next(m for m in store.tree(1).messages.values() if m.role == "assistant")
    assert thought.content == "" and thought.extra is None
    assert thought.reasoning is not None and thought.reasoning.text == "**Scattering**\n\nRayleigh."
    assert [h.part for h in store.search_messages("rayleigh")] == ["reasoning"]
    store.close()
    # Opened again: nothing more to do, no new copy.
    assert HistoryStore(path).backup is None


def test_a_migration_that_cannot_keep_its_copy_leaves_the_history_alone(tmp_path):
    path = tmp_path / "history.db"
    schema_3_history(path)
    (tmp_path / f"history.db.before-schema-{len(MIGRATIONS)}.partial").mkdir()  # the copy cannot be written
    with pytest.raises(UpdateBlocked, match="could not be kept first"):
        HistoryStore(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 3


def test_search_follows_inserts_updates_deletes_and_trash(store):
    conv = store.create_conversation("Cooking")
    user = store.add_message(conv.id, None, "user", "How long to boil an egg?")
    reply = store.add_message(conv.id, user.id, "assistant", "")
    assert store.search_messages("minutes") == []
    store.update_message(reply.id, content="About nine minutes for a hard-boiled egg.")
    hits = store.search_messages("minutes")
    assert [(h.message_id, h.role) for h in hits] == [(reply.id, "assistant")]
    assert "<b>minutes</b>" in hits[0].snippet
    assert [h.message_id for h in store.search_messages("boil ")] == [user.id]  # a finished word
    assert len(store.search_messages("boil")) == 2  # still typing: "boiled" matches too
    assert len(store.search_messages("egg")) == 2
    assert store.search_messages("mi")  # prefix while typing
    store.trash_conversation(conv.id)
    assert store.search_messages("egg") == [] and store.conversations() == []
    store.restore_conversation(conv.id)
    assert len(store.search_messages("egg")) == 2
    store.trash_conversation(conv.id)
    assert store.purge_trash() == 1
    assert store.db.execute("SELECT COUNT(*) FROM messages_fts").fetchone()[0] == 0


def test_search_input_is_text_not_syntax(store):
    conv = store.create_conversation("x")
    store.add_message(conv.id, None, "user", 'say "NEAR" AND OR * <script> café')
    for query in ['"', "AND", "NEAR(", "*", "content:", "<script>", "'; DROP TABLE messages; --", "cafe"]:
        store.search_messages(query)  # never an FTS syntax error
    assert store.search_messages("cafe")  # accents folded
    assert "&lt;<b>script</b>&gt;" in store.search_messages("script")[0].snippet


def test_pinned_first_then_activity(store):
    a = store.create_conversation("a")
    b = store.create_conversation("b")
    store.touch(b.id)
    assert [c.title for c in store.conversations()] == ["b", "a"]
    store.set_pinned(a.id, True)
    assert [c.title for c in store.conversations()] == ["a", "b"]
    assert [c.title for c in store.conversations(offset=1, limit=1)] == ["b"]
    assert store.count_conversations() == 2


def test_the_store_says_which_conversation_changed_once_the_write_is_done(tmp_path):
    store = HistoryStore(tmp_path / "h.db")
    heard: list[int | None] = []
    store.subscribe(heard.append)
    conv = store.create_conversation("a")
    user = store.add_message(conv.id, None, "user", "hi")
    store.update_message(user.id, content="hello")  # a message's text: no list shows it
    store.set_pinned(conv.id, True)
    store.rename_providers({"nobody": "still nobody"})  # changed nothing: nothing said
    assert heard == [conv.id, conv.id, conv.id]
    store.db.execute("PRAGMA query_only = ON")
    with pytest.raises(StoreError):
        store.update_conversation(conv.id, title="refused")
    assert len(heard) == 3  # a refused write is not announced
    store.db.execute("PRAGMA query_only = OFF")
    store.trash_conversation(conv.id)
    assert store.purge_trash() == 1 and heard[-1] is None  # many at once
    store.close()


def test_providers_can_trade_names_in_one_rename(tmp_path):
    store = HistoryStore(tmp_path / "h.db")
    a = store.create_conversation("on A", provider="A")
    b = store.create_conversation("on B", provider="B")
    other = store.create_conversation("elsewhere", provider="C")
    assert store.rename_providers({"A": "B", "B": "A"}) == 2
    assert [store.conversation(c.id).provider for c in (a, b, other)] == ["B", "A", "C"]
    store.close()


def test_search_passages_are_shown_without_markdown_marks(tmp_path):
    store = HistoryStore(tmp_path / "h.db")
    conversation = store.create_conversation("notes")
    store.add_message(
        conversation.id, None, "assistant", "## Setup\n\nRun **`pip install`** and see [the docs](https://x.example).\n"
    )
    snippet = store.search_messages("install")[0].snippet
    assert "**" not in snippet and "`" not in snippet and "##" not in snippet and "](" not in snippet
    assert "<b>install</b>" in snippet and "the docs" in snippet
    store.add_message(
        conversation.id,
        None,
        "assistant",
        "Use [bisect][1]:\n\n```python\nfrom bisect import x\n```\n\n[1]: https://d.example\n",
    )
    snippet = store.search_messages("bisect")[0].snippet
    assert "[" not in snippet and "python" not in snippet and "d.example" not in snippet, snippet
    assert "Use <b>bisect</b>:" in snippet and "from <b>bisect</b> import x" in snippet
    store.close()


def test_a_migration_that_fails_half_way_leaves_nothing_half_done(tmp_path, monkeypatch):
    from desktop_chat.core import migrations

    path = tmp_path / "history.db"
    schema_3_history(path)

    def broken(content):
        raise RuntimeError("the disk went away")

    monkeypatch.setattr(migrations, "thoughts_text", broken)
    with pytest.raises(RuntimeError):
        HistoryStore(path)
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 3
    assert db.execute("SELECT name FROM sqlite_master WHERE name LIKE '%parts%'").fetchall() == []
    db.close()
    monkeypatch.undo()
    # And the next start does it.
    assert HistoryStore(path).db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)


def test_parts_already_stored_are_left_as_they_are(store):
    from desktop_chat.core.conversation import TOOL_DONE, TextPart, ToolCallPart

    conversation = store.create_conversation("x")
    user = store.add_message(conversation.id, None, "user", "hi")
    call = ToolCallPart("c1", "big", "{}", "s", "sid", "big", TOOL_DONE, "needle " * 1000)
    first = (TextPart("Looking."), call)
    reply = store.add_message(
        conversation.id, user.id, "assistant", "", status="streaming", parts=(*first, TextPart("a"))
    )
    # A mark in the first row: it stays only if that row is not written again.
    store.db.execute("UPDATE message_parts SET data = 'mark' WHERE message_id = ? AND position = 0", (reply.id,))
    store.update_message(reply.id, (*first, TextPart("and more")), unchanged=len(first))
    row = store.db.execute("SELECT data FROM message_parts WHERE message_id = ? AND position = 0", (reply.id,))
    assert row.fetchone()[0] == "mark"
    kept = store.message(reply.id)
    assert kept.parts == (*first, TextPart("and more")) and kept.content == "Looking.\n\nand more"
    assert [h.message_id for h in store.search_messages("needle")] == [reply.id]
    store.update_message(reply.id, kept.parts)  # (all of them: the mark goes)
    row = store.db.execute("SELECT data FROM message_parts WHERE message_id = ? AND position = 0", (reply.id,))
    assert row.fetchone()[0] is None
