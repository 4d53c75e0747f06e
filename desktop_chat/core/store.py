"""The history store: conversations and messages in one SQLite file, migrated on open."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .conversation import COMPLETE, INTERRUPTED, STREAMING, Conversation, Message, MessageTree


class StoreError(RuntimeError):
    """The history file cannot be used; the message says why, for the user."""


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


# Ordered; the database's user_version is how many have run. Only ever append.
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [m001_initial]

_CONVERSATION_COLUMNS = "id, title, created_at, updated_at, provider, model, system_prompt, temperature, current_leaf_id"
_MESSAGE_COLUMNS = (
    "id, conversation_id, parent_id, role, content, status, error, provider, model, "
    "prompt_tokens, completion_tokens, created_at, finish_reason"
)


class HistoryStore:
    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._last_time = 0.0
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.path.exists():
                # Create it private before SQLite writes anything into it.
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self.db = sqlite3.connect(str(path), isolation_level=None)
        try:
            # Check the version before anything writes: a newer app's file stays byte-for-byte as it was.
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            self._refuse_newer(version)
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self._migrate(version)
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise StoreError(f"The history file {self.path} cannot be read: {exc}") from exc
        except StoreError:
            self.db.close()
            raise

    def _refuse_newer(self, version: int) -> None:
        if version > len(MIGRATIONS):
            raise StoreError(
                f"The history file {self.path} was written by a newer version of Desktop Chat "
                f"(schema {version}, this app knows {len(MIGRATIONS)}). It was left untouched; "
                "please update the app."
            )

    def _migrate(self, version: int) -> None:
        for number, migration in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.db:
                self.db.execute("BEGIN")
                migration(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")

    def close(self) -> None:
        self.db.close()

    def _now(self) -> float:
        # Strictly increasing, so creation order is unambiguous even within one clock tick.
        now = max(self._clock(), self._last_time + 1e-6)
        self._last_time = now
        return now

    # Conversations

    def create_conversation(
        self, title: str = "", provider: str | None = None, model: str | None = None,
        system_prompt: str = "", temperature: float | None = None,
    ) -> Conversation:
        now = self._now()
        cur = self.db.execute(
            "INSERT INTO conversations (title, created_at, updated_at, provider, model, system_prompt, temperature)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (title, now, now, provider, model, system_prompt, temperature),
        )
        return Conversation(cur.lastrowid or 0, title, now, now, provider, model, system_prompt, temperature)

    def conversation(self, conversation_id: int) -> Conversation | None:
        row = self.db.execute(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        return Conversation(*row) if row else None

    def conversations(self) -> list[Conversation]:
        rows = self.db.execute(f"SELECT {_CONVERSATION_COLUMNS} FROM conversations ORDER BY updated_at DESC, id DESC")
        return [Conversation(*row) for row in rows]

    _EDITABLE = {"title", "provider", "model", "system_prompt", "temperature", "current_leaf_id"}

    def update_conversation(self, conversation_id: int, **fields: Any) -> None:
        unknown = set(fields) - self._EDITABLE
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        if not fields:
            return
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self.db.execute(
            f"UPDATE conversations SET {assignments} WHERE id = ?", (*fields.values(), conversation_id)
        )

    def touch(self, conversation_id: int) -> None:
        self.db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (self._now(), conversation_id))

    def delete_conversation(self, conversation_id: int) -> None:
        self.db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    # Messages

    def add_message(
        self, conversation_id: int, parent_id: int | None, role: str, content: str,
        status: str = COMPLETE, provider: str | None = None, model: str | None = None,
    ) -> Message:
        """Append a message and make it the conversation's current branch tip."""
        now = self._now()
        with self.db:
            self.db.execute("BEGIN")
            cur = self.db.execute(
                "INSERT INTO messages (conversation_id, parent_id, role, content, status, provider, model, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, parent_id, role, content, status, provider, model, now),
            )
            message_id = cur.lastrowid or 0
            self.db.execute(
                "UPDATE conversations SET current_leaf_id = ?, updated_at = ? WHERE id = ?",
                (message_id, now, conversation_id),
            )
        return Message(message_id, conversation_id, parent_id, role, content, status, None, provider, model, created_at=now)

    def update_message(self, message_id: int, **fields: Any) -> None:
        allowed = {"content", "status", "error", "prompt_tokens", "completion_tokens", "finish_reason"}
        if set(fields) - allowed:
            raise ValueError(f"not editable: {sorted(set(fields) - allowed)}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self.db.execute(f"UPDATE messages SET {assignments} WHERE id = ?", (*fields.values(), message_id))

    def message(self, message_id: int) -> Message | None:
        row = self.db.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)).fetchone()
        return Message(*row) if row else None

    def tree(self, conversation_id: int) -> MessageTree:
        rows = self.db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)
        )
        return MessageTree.of(Message(*row) for row in rows)

    def select_branch(self, conversation_id: int, message_id: int) -> None:
        """Show the version that message_id starts: its newest descendants become current."""
        leaf = self.tree(conversation_id).latest_leaf_under(message_id)
        self.update_conversation(conversation_id, current_leaf_id=leaf)

    def mark_interrupted(self) -> int:
        """Replies left 'streaming' by a crash become 'interrupted'; returns how many."""
        cur = self.db.execute("UPDATE messages SET status = ? WHERE status = ?", (INTERRUPTED, STREAMING))
        return cur.rowcount
