"""The history's schema, as an ordered list of small named migrations (as llm's migrations.py).

The database's user_version is how many have run. Only ever append; never change one
that has shipped.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable


def m001_initial(db: sqlite3.Connection) -> None:
    db.executescript(
        """
        CREATE TABLE conversations (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            provider TEXT,
            model TEXT,
            system_prompt TEXT NOT NULL DEFAULT '',
            temperature REAL,
            current_leaf_id INTEGER
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            parent_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
            role TEXT NOT NULL,
            content TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'complete',
            error TEXT,
            provider TEXT,
            model TEXT,
            prompt_tokens INTEGER,
            completion_tokens INTEGER,
            finish_reason TEXT,
            created_at REAL NOT NULL
        );
        CREATE INDEX messages_by_conversation ON messages(conversation_id, parent_id);
        CREATE INDEX conversations_by_activity ON conversations(updated_at DESC);
        """
    )


def m002_search_pins_identity(db: sqlite3.Connection) -> None:
    """Full-text search (FTS5 over message text), pins, soft delete for undo, stable ids."""
    db.execute("ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")
    db.execute("ALTER TABLE conversations ADD COLUMN uid TEXT")
    db.execute("ALTER TABLE conversations ADD COLUMN deleted_at REAL")
    db.execute("ALTER TABLE messages ADD COLUMN uid TEXT")
    db.execute("ALTER TABLE messages ADD COLUMN extra TEXT")
    db.execute("UPDATE conversations SET uid = lower(hex(randomblob(16))) WHERE uid IS NULL")
    db.execute("UPDATE messages SET uid = lower(hex(randomblob(16))) WHERE uid IS NULL")
    db.execute("CREATE UNIQUE INDEX conversations_by_uid ON conversations(uid)")
    db.execute("CREATE INDEX conversations_listed ON conversations(deleted_at, pinned DESC, updated_at DESC)")
    db.execute(
        "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id', "
        "tokenize='unicode61 remove_diacritics 2')"
    )
    db.execute(
        "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
        "INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END"
    )
    db.execute(
        "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
        "INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content); END"
    )
    db.execute(
        "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN "
        "INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, old.content); "
        "INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END"
    )
    db.execute("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')")


def m003_streaming_index(db: sqlite3.Connection) -> None:
    """Finding replies a crash left 'streaming' must not scan every message at start-up."""
    db.execute("CREATE INDEX messages_streaming ON messages(status) WHERE status = 'streaming'")


def m004_message_parts(db: sqlite3.Connection) -> None:
    """Messages made of typed parts (reasoning now; attachments and tool calls later).

    A message with no rows here is its `content` alone; one with rows is those parts in
    order, and its `content` stays the text parts joined (what is searched, copied and
    sent back as the answer). Parts other than text are searched through parts_fts.
    Replies a ChatGPT import kept as "[thoughts not shown]" become what they were: a
    reply's reasoning.
    """
    # (One statement at a time: executescript would commit the migration's transaction.)
    db.execute(
        "CREATE TABLE message_parts (id INTEGER PRIMARY KEY,"
        " message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
        " position INTEGER NOT NULL, kind TEXT NOT NULL, text TEXT NOT NULL DEFAULT '', data TEXT,"
        " UNIQUE (message_id, position))"
    )
    db.execute(
        "CREATE VIRTUAL TABLE parts_fts USING fts5(text, content='message_parts', content_rowid='id', "
        "tokenize='unicode61 remove_diacritics 2')"
    )
    db.execute(
        "CREATE TRIGGER parts_fts_insert AFTER INSERT ON message_parts WHEN new.kind != 'text' BEGIN "
        "INSERT INTO parts_fts(rowid, text) VALUES (new.id, new.text); END"
    )
    db.execute(
        "CREATE TRIGGER parts_fts_delete AFTER DELETE ON message_parts WHEN old.kind != 'text' BEGIN "
        "INSERT INTO parts_fts(parts_fts, rowid, text) VALUES ('delete', old.id, old.text); END"
    )
    rows = db.execute(
        'SELECT id, extra FROM messages WHERE extra LIKE \'%"content_type": "thoughts"%\' '
        "AND content = '[thoughts not shown]'"
    ).fetchall()
    for message_id, extra in rows:
        kept = _json(extra)
        unsupported = kept.get("unsupported") if isinstance(kept, dict) else None
        text = thoughts_text(unsupported.get("data") if isinstance(unsupported, dict) else None)
        if text is None:
            continue
        db.execute(
            "INSERT INTO message_parts (message_id, position, kind, text) VALUES (?, 0, 'reasoning', ?)",
            (message_id, text),
        )
        db.execute("UPDATE messages SET content = '', extra = NULL WHERE id = ?", (message_id,))


def m005_conversation_tools(db: sqlite3.Connection) -> None:
    """Each conversation says whether its model is offered the tools of the enabled tool
    servers (on unless the user turns them off for it)."""
    db.execute("ALTER TABLE conversations ADD COLUMN tools INTEGER NOT NULL DEFAULT 1")


def thoughts_text(content: object) -> str | None:
    """The text of ChatGPT's "thoughts" content (a list of {summary, content}), or None."""
    if not isinstance(content, dict) or content.get("content_type") != "thoughts":
        return None
    pieces = []
    thoughts = content.get("thoughts")
    for thought in thoughts if isinstance(thoughts, list) else []:
        if not isinstance(thought, dict):
            continue
        summary = thought.get("summary")
        body = thought.get("content")
        if isinstance(summary, str) and summary.strip():
            pieces.append(f"**{summary.strip()}**")
        if isinstance(body, str) and body.strip():
            pieces.append(body.strip())
    return "\n\n".join(pieces)


def _json(text: str | None) -> object:
    import json

    try:
        return json.loads(text or "null")
    except ValueError:
        return None


# Ordered; the database's user_version is how many have run. Only ever append.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    m001_initial,
    m002_search_pins_identity,
    m003_streaming_index,
    m004_message_parts,
    m005_conversation_tools,
]
