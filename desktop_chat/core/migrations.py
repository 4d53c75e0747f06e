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


# Ordered; the database's user_version is how many have run. Only ever append.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    m001_initial,
    m002_search_pins_identity,
    m003_streaming_index,
]
