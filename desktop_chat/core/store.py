"""The history store: conversations and messages in one SQLite file, migrated on open."""

from __future__ import annotations

import functools
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .conversation import COMPLETE, INTERRUPTED, STREAMING, Conversation, Message, MessageTree


class StoreError(RuntimeError):
    """The history file cannot be used; the message says why, for the user."""


class StoreWriteError(StoreError):
    """A change could not be saved (disk full, read-only, I/O error); nothing else is lost."""


F = TypeVar("F", bound=Callable[..., Any])


def _writes(method: F) -> F:
    """Turn SQLite's write failures into one clear StoreWriteError."""

    @functools.wraps(method)
    def wrapper(self: HistoryStore, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            text = str(exc).lower()
            if "full" in text:
                reason = "the disk is full"
            elif "readonly" in text or "read-only" in text:
                reason = "the history file is read-only"
            elif "malformed" in text or "corrupt" in text:
                reason = "the history file is damaged (it will be repaired at the next start)"
                self.needs_check = True
            else:
                reason = f"the disk reported a problem ({exc})"
            raise StoreWriteError(f"Your history could not be saved: {reason}.") from exc

    return wrapper  # type: ignore[return-value]


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

_CONVERSATION_COLUMNS = (
    "id, title, created_at, updated_at, provider, model, system_prompt, temperature, current_leaf_id, pinned, uid"
)
_MESSAGE_COLUMNS = (
    "id, conversation_id, parent_id, role, content, status, error, provider, model, "
    "prompt_tokens, completion_tokens, created_at, finish_reason, uid, extra"
)


@dataclass(frozen=True)
class SearchHit:
    conversation_id: int
    message_id: int
    title: str
    role: str
    created_at: float
    # The matching passage, HTML-escaped, with the matched words in <b>…</b>.
    snippet: str


def fts_query(text: str) -> str | None:
    """What the user typed, as an FTS5 query: every word must appear; the last may be a prefix.

    Each word is quoted, so FTS5 syntax in the input (AND, *, quotes, columns) is just text.
    """
    words = [w for w in "".join(ch if ch.isalnum() else " " for ch in text).split() if w]
    if not words:
        return None
    quoted = [f'"{w}"' for w in words]
    if text and text[-1].isalnum():
        quoted[-1] += "*"  # as-you-type: the word being typed may be unfinished
    return " ".join(quoted)


def _conversation(row: tuple[Any, ...]) -> Conversation:
    (cid, title, created, updated, provider, model, prompt, temperature, leaf, pinned, uid) = row
    return Conversation(
        cid, title, created, updated, provider, model, prompt, temperature, leaf, bool(pinned), uid or ""
    )


def _message(row: tuple[Any, ...]) -> Message:
    return Message(*row)


@dataclass
class ImportedMessage:
    uid: str
    parent_uid: str | None
    role: str
    content: str
    created_at: float
    status: str = COMPLETE
    error: str | None = None
    provider: str | None = None
    model: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    extra: str | None = None


@dataclass
class ImportedConversation:
    uid: str
    title: str
    created_at: float
    updated_at: float
    messages: list[ImportedMessage]
    current_leaf_uid: str | None = None
    provider: str | None = None
    model: str | None = None
    system_prompt: str = ""
    temperature: float | None = None
    pinned: bool = False


class HistoryStore:
    def __init__(self, path: Path | str, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._last_time = 0.0
        # Set when a write found the file damaged: the next start checks and repairs it.
        self.needs_check = False
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

    def check(self) -> str | None:
        """SQLite's quick integrity check: None when the file is sound, else what is wrong."""
        try:
            rows = [r[0] for r in self.db.execute("PRAGMA quick_check")]
        except sqlite3.DatabaseError as exc:
            return str(exc)
        return None if rows == ["ok"] else "; ".join(rows[:3])

    def close(self) -> None:
        self.db.close()

    def _now(self) -> float:
        # Strictly increasing, so creation order is unambiguous even within one clock tick.
        now = max(self._clock(), self._last_time + 1e-6)
        self._last_time = now
        return now

    # Conversations

    @_writes
    def create_conversation(
        self,
        title: str = "",
        provider: str | None = None,
        model: str | None = None,
        system_prompt: str = "",
        temperature: float | None = None,
    ) -> Conversation:
        now = self._now()
        uid = uuid.uuid4().hex
        cur = self.db.execute(
            "INSERT INTO conversations (title, created_at, updated_at, provider, model, system_prompt, temperature, uid)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (title, now, now, provider, model, system_prompt, temperature, uid),
        )
        return Conversation(cur.lastrowid or 0, title, now, now, provider, model, system_prompt, temperature, uid=uid)

    def conversation(self, conversation_id: int) -> Conversation | None:
        row = self.db.execute(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        return _conversation(row) if row else None

    def conversations(self, offset: int = 0, limit: int = -1) -> list[Conversation]:
        """Conversations as the sidebar lists them: pinned first, then by last activity."""
        rows = self.db.execute(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE deleted_at IS NULL "
            "ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [_conversation(row) for row in rows]

    def count_conversations(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM conversations WHERE deleted_at IS NULL").fetchone()[0])

    @_writes
    def set_pinned(self, conversation_id: int, pinned: bool) -> None:
        self.db.execute("UPDATE conversations SET pinned = ? WHERE id = ?", (int(pinned), conversation_id))

    @_writes
    def trash_conversation(self, conversation_id: int) -> None:
        """Hide it everywhere, undoably; purge_trash() deletes it for good."""
        self.db.execute("UPDATE conversations SET deleted_at = ? WHERE id = ?", (self._clock(), conversation_id))

    @_writes
    def restore_conversation(self, conversation_id: int) -> None:
        self.db.execute("UPDATE conversations SET deleted_at = NULL WHERE id = ?", (conversation_id,))

    @_writes
    def purge_trash(self) -> int:
        cur = self.db.execute("DELETE FROM conversations WHERE deleted_at IS NOT NULL")
        return cur.rowcount

    def conversation_by_uid(self, uid: str) -> Conversation | None:
        row = self.db.execute(f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE uid = ?", (uid,)).fetchone()
        return _conversation(row) if row else None

    def search_messages(self, text: str, limit: int = 50, offset: int = 0) -> list[SearchHit]:
        """Full-text search over every message not in the trash, newest first.

        Newest first lets FTS5 walk its index in rowid order and stop at `limit`; ranking
        by relevance scores every match first (measured: 640 ms against 18 ms over a
        million messages, benchmarks/history.py).
        """
        query = fts_query(text)
        if query is None:
            return []
        rows = self.db.execute(
            "SELECT m.conversation_id, m.id, c.title, m.role, m.created_at, f.snip FROM "
            "(SELECT rowid AS id, snippet(messages_fts, 0, char(2), char(3), '…', 16) AS snip FROM messages_fts "
            " WHERE messages_fts MATCH ? ORDER BY rowid DESC LIMIT ? OFFSET ?) f "
            "JOIN messages m ON m.id = f.id JOIN conversations c ON c.id = m.conversation_id "
            "WHERE c.deleted_at IS NULL ORDER BY f.id DESC",
            (query, limit, offset),
        )
        return [
            SearchHit(cid, mid, title, role, created, _snippet_html(snippet))
            for cid, mid, title, role, created, snippet in rows
        ]

    _EDITABLE = {"title", "provider", "model", "system_prompt", "temperature", "current_leaf_id", "pinned"}

    @_writes
    def update_conversation(self, conversation_id: int, **fields: Any) -> None:
        unknown = set(fields) - self._EDITABLE
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        if not fields:
            return
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self.db.execute(f"UPDATE conversations SET {assignments} WHERE id = ?", (*fields.values(), conversation_id))

    @_writes
    def touch(self, conversation_id: int) -> None:
        self.db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (self._now(), conversation_id))

    @_writes
    def delete_conversation(self, conversation_id: int) -> None:
        self.db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    # Messages

    @_writes
    def add_message(
        self,
        conversation_id: int,
        parent_id: int | None,
        role: str,
        content: str,
        status: str = COMPLETE,
        provider: str | None = None,
        model: str | None = None,
    ) -> Message:
        """Append a message and make it the conversation's current branch tip."""
        now = self._now()
        uid = uuid.uuid4().hex
        with self.db:
            self.db.execute("BEGIN")
            cur = self.db.execute(
                "INSERT INTO messages (conversation_id, parent_id, role, content, status, provider, model, created_at, uid)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (conversation_id, parent_id, role, content, status, provider, model, now, uid),
            )
            message_id = cur.lastrowid or 0
            self.db.execute(
                "UPDATE conversations SET current_leaf_id = ?, updated_at = ? WHERE id = ?",
                (message_id, now, conversation_id),
            )
        return Message(
            message_id,
            conversation_id,
            parent_id,
            role,
            content,
            status,
            None,
            provider,
            model,
            created_at=now,
            uid=uid,
        )

    @_writes
    def update_message(self, message_id: int, **fields: Any) -> None:
        allowed = {"content", "status", "error", "prompt_tokens", "completion_tokens", "finish_reason"}
        if set(fields) - allowed:
            raise ValueError(f"not editable: {sorted(set(fields) - allowed)}")
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self.db.execute(f"UPDATE messages SET {assignments} WHERE id = ?", (*fields.values(), message_id))

    def message(self, message_id: int) -> Message | None:
        row = self.db.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)).fetchone()
        return _message(row) if row else None

    def tree(self, conversation_id: int) -> MessageTree:
        rows = self.db.execute(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)
        )
        return MessageTree.of(_message(row) for row in rows)

    @_writes
    def select_branch(self, conversation_id: int, message_id: int) -> None:
        """Show the version that message_id starts: its newest descendants become current."""
        leaf = self.tree(conversation_id).latest_leaf_under(message_id)
        self.update_conversation(conversation_id, current_leaf_id=leaf)

    @_writes
    def import_conversation(self, data: ImportedConversation) -> int | None:
        """Insert a whole conversation with its own times and ids; None if its uid is already here."""
        if self.conversation_by_uid(data.uid) is not None:
            return None
        with self.db:
            self.db.execute("BEGIN")
            cur = self.db.execute(
                "INSERT INTO conversations (title, created_at, updated_at, provider, model, system_prompt, temperature,"
                " pinned, uid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    data.title,
                    data.created_at,
                    data.updated_at,
                    data.provider,
                    data.model,
                    data.system_prompt,
                    data.temperature,
                    int(data.pinned),
                    data.uid,
                ),
            )
            conversation_id = cur.lastrowid
            ids: dict[str, int] = {}
            pending = list(data.messages)
            # Parents before children, whatever order the file lists them in.
            while pending:
                progressed = False
                rest = []
                for m in pending:
                    if m.parent_uid is not None and m.parent_uid not in ids:
                        rest.append(m)
                        continue
                    cur = self.db.execute(
                        "INSERT INTO messages (conversation_id, parent_id, role, content, status, error, provider, model,"
                        " prompt_tokens, completion_tokens, finish_reason, created_at, uid, extra)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            conversation_id,
                            ids.get(m.parent_uid) if m.parent_uid else None,
                            m.role,
                            m.content,
                            m.status,
                            m.error,
                            m.provider,
                            m.model,
                            m.prompt_tokens,
                            m.completion_tokens,
                            m.finish_reason,
                            m.created_at,
                            m.uid,
                            m.extra,
                        ),
                    )
                    ids[m.uid] = cur.lastrowid or 0
                    progressed = True
                if not progressed:
                    raise ValueError(f"conversation {data.uid}: messages whose parents are missing")
                pending = rest
            leaf = ids.get(data.current_leaf_uid) if data.current_leaf_uid else None
            self.db.execute("UPDATE conversations SET current_leaf_id = ? WHERE id = ?", (leaf, conversation_id))
        return conversation_id

    @_writes
    def mark_interrupted(self) -> int:
        """Replies left 'streaming' by a crash become 'interrupted'; returns how many."""
        cur = self.db.execute("UPDATE messages SET status = ? WHERE status = ?", (INTERRUPTED, STREAMING))
        return cur.rowcount


def _snippet_html(snippet: str) -> str:
    import html

    return html.escape(snippet).replace("\x02", "<b>").replace("\x03", "</b>")


def _readable_rows(db: sqlite3.Connection, table: str, columns: str) -> Any:
    """Yield what can still be read of a table, in rowid order, stepping over damaged pages."""
    last, failures = 0, 0
    while failures < 2000:
        try:
            rows = db.execute(
                f"SELECT rowid, {columns} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT 200", (last,)
            ).fetchall()
        except sqlite3.DatabaseError:
            failures += 1
            last += 1
            continue
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def recover_history(damaged: Path, store: HistoryStore) -> tuple[int, int]:
    """Copy what can still be read of a damaged history into `store`.

    First what SQLite itself can still reach; then rows read straight off intact pages
    (core/salvage.py), which finds those behind damaged tree or schema pages. Returns
    (conversations, messages) recovered. The damaged file is only read.
    """
    found = _copy_readable(damaged, store)
    more = _copy_salvaged(damaged, store)
    return found[0] + more[0], found[1] + more[1]


MESSAGE_ROLES = {"user", "assistant", "system", "tool"}


def _copy_salvaged(damaged: Path, store: HistoryStore) -> tuple[int, int]:
    from .salvage import salvage_rows

    conversation_fields = _CONVERSATION_COLUMNS.replace(" ", "").split(",")
    message_fields = _MESSAGE_COLUMNS.replace(" ", "").split(",")
    # Records in table order, as the migrations laid the columns out.
    conversation_order = [
        "id",
        "title",
        "created_at",
        "updated_at",
        "provider",
        "model",
        "system_prompt",
        "temperature",
        "current_leaf_id",
        "pinned",
        "uid",
        "deleted_at",
    ]
    message_order = [
        "id",
        "conversation_id",
        "parent_id",
        "role",
        "content",
        "status",
        "error",
        "provider",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "finish_reason",
        "created_at",
        "uid",
        "extra",
    ]
    conversations: dict[int, dict[str, Any]] = {}
    messages: dict[int, dict[str, Any]] = {}
    for rowid, values in salvage_rows(damaged):
        if (
            13 <= len(values) <= 15
            and values[3] in MESSAGE_ROLES
            and isinstance(values[1], int)
            and isinstance(values[4], str)
            and isinstance(values[12], int | float)
        ):
            messages.setdefault(rowid, dict(zip(message_order, values, strict=False)) | {"id": rowid})
        elif (
            9 <= len(values) <= 12
            and isinstance(values[1], str)
            and isinstance(values[2], int | float)
            and isinstance(values[3], int | float)
            and isinstance(values[6], str)
        ):
            conversations.setdefault(rowid, dict(zip(conversation_order, values, strict=False)) | {"id": rowid})
    have_c = {r[0] for r in store.db.execute("SELECT id FROM conversations")}
    have_m = {r[0] for r in store.db.execute("SELECT id FROM messages")}
    added_c = added_m = 0
    with store.db:
        store.db.execute("BEGIN")
        for cid, row in sorted(conversations.items()):
            if cid in have_c or row.get("deleted_at") is not None:
                continue
            row["uid"] = row.get("uid") or uuid.uuid4().hex
            if store.db.execute("SELECT 1 FROM conversations WHERE uid = ?", (row["uid"],)).fetchone():
                continue
            record = {k: row.get(k) for k in conversation_fields if k != "current_leaf_id"}
            store.db.execute(
                f"INSERT INTO conversations ({', '.join(record)}) VALUES ({', '.join('?' * len(record))})",
                tuple(record.values()),
            )
            have_c.add(cid)
            added_c += 1
        for mid, row in sorted(messages.items()):
            if mid in have_m or row.get("conversation_id") not in have_c:
                continue
            if row.get("parent_id") not in have_m:
                row["parent_id"] = None
            if row.get("status") == "streaming":
                row["status"] = "interrupted"
            row["uid"] = row.get("uid") or uuid.uuid4().hex
            record = {k: row.get(k) for k in message_fields}
            record["status"] = record["status"] or COMPLETE
            store.db.execute(
                f"INSERT INTO messages ({', '.join(record)}) VALUES ({', '.join('?' * len(record))})",
                tuple(record.values()),
            )
            have_m.add(mid)
            added_m += 1
        for cid, row in conversations.items():
            if cid in have_c and row.get("current_leaf_id") in have_m:
                store.db.execute(
                    "UPDATE conversations SET current_leaf_id = ? WHERE id = ? AND current_leaf_id IS NULL",
                    (row["current_leaf_id"], cid),
                )
        store.db.execute(
            "UPDATE conversations SET current_leaf_id = (SELECT max(id) FROM messages m "
            "WHERE m.conversation_id = conversations.id) WHERE current_leaf_id IS NULL"
        )
    return added_c, added_m


def _copy_readable(damaged: Path, store: HistoryStore) -> tuple[int, int]:
    try:
        source = sqlite3.connect(f"file:{damaged}?mode=ro", uri=True)
    except sqlite3.DatabaseError:
        return 0, 0
    conversations = messages = 0
    try:
        try:
            tables = {r[0] for r in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            columns_of = {
                t: [r[1] for r in source.execute(f"PRAGMA table_info({t})")] for t in ("conversations", "messages")
            }
        except sqlite3.DatabaseError:
            return 0, 0
        if not {"conversations", "messages"} <= tables:
            return 0, 0
        wanted_c = [c for c in _CONVERSATION_COLUMNS.replace(" ", "").split(",") if c in columns_of["conversations"]]
        wanted_m = [c for c in _MESSAGE_COLUMNS.replace(" ", "").split(",") if c in columns_of["messages"]]
        known_conversations: set[int] = set()
        known_messages: set[int] = set()
        with store.db:
            store.db.execute("BEGIN")
            for row in _readable_rows(source, "conversations", ", ".join(wanted_c)):
                values = dict(zip(wanted_c, row[1:], strict=True))
                values.setdefault("uid", uuid.uuid4().hex)
                values["uid"] = values["uid"] or uuid.uuid4().hex
                values["current_leaf_id"] = None  # set again below, once its message is known
                names = ", ".join(values)
                try:
                    store.db.execute(
                        f"INSERT INTO conversations ({names}) VALUES ({', '.join('?' * len(values))})",
                        tuple(values.values()),
                    )
                except sqlite3.DatabaseError:
                    continue
                known_conversations.add(values["id"])
                conversations += 1
            leaves = {}
            for row in _readable_rows(source, "conversations", "id, current_leaf_id"):
                leaves[row[1]] = row[2]
            for row in _readable_rows(source, "messages", ", ".join(wanted_m)):
                values = dict(zip(wanted_m, row[1:], strict=True))
                if values.get("conversation_id") not in known_conversations:
                    continue
                if values.get("parent_id") not in known_messages:
                    values["parent_id"] = None
                values["uid"] = values.get("uid") or uuid.uuid4().hex
                if values.get("status") == "streaming":
                    values["status"] = "interrupted"
                names = ", ".join(values)
                try:
                    store.db.execute(
                        f"INSERT INTO messages ({names}) VALUES ({', '.join('?' * len(values))})",
                        tuple(values.values()),
                    )
                except sqlite3.DatabaseError:
                    continue
                known_messages.add(values["id"])
                messages += 1
            for conversation_id, leaf in leaves.items():
                if conversation_id in known_conversations and leaf in known_messages:
                    store.db.execute(
                        "UPDATE conversations SET current_leaf_id = ? WHERE id = ?", (leaf, conversation_id)
                    )
            # Where the shown branch's tip was lost, show the newest message that survived.
            store.db.execute(
                "UPDATE conversations SET current_leaf_id = (SELECT max(id) FROM messages m "
                "WHERE m.conversation_id = conversations.id) WHERE current_leaf_id IS NULL"
            )
    finally:
        source.close()
    return conversations, messages
