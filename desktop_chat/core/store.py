"""The history store: conversations and messages in one SQLite file, migrated on open."""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from desktop_chat.errors import DesktopChatError, SaveFailed

from .conversation import (
    COMPLETE,
    INTERRUPTED,
    STREAMING,
    TOOL_NOT_RUN,
    AttachmentPart,
    Conversation,
    Message,
    MessageTree,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    text_of,
)
from .migrations import MIGRATIONS


class StoreError(DesktopChatError):
    """The history file cannot be used; the message says why, for the user."""


class LeftUntouched(StoreError):
    """The history cannot be used as it is, and was left untouched: the app says why and stops."""


class NewerHistory(LeftUntouched):
    """The history was written by a newer version of the app."""


class UpdateBlocked(LeftUntouched):
    """The history needs a schema update, and the copy kept before it could not be made."""


class StoreWriteError(StoreError, SaveFailed):
    """A change could not be saved (disk full, read-only, I/O error); nothing else is lost."""


# Beside the history file while a write has found it damaged: the next start checks it.
NEEDS_CHECK_SUFFIX = ".needs-check"

# Told after a write that changes what a list of conversations shows: the id of the
# conversation, or None when many changed at once.
ChangeListener = Callable[[int | None], None]

# Told while the history is brought up to this version's schema: what is being done and
# how far along it is (0.0-1.0).
Progress = Callable[[str, float], None]

# A method of HistoryStore, whatever its signature.
Method = TypeVar("Method", bound=Callable[..., object])


def _writes(method: Method) -> Method:
    """Turn SQLite's write failures into one clear StoreWriteError."""

    @functools.wraps(method)
    def wrapper(self: HistoryStore, *args: object, **kwargs: object) -> object:
        try:
            result = method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            self._changes.clear()
            text = str(exc).lower()
            if "full" in text:
                reason = "the disk is full"
            elif "readonly" in text or "read-only" in text:
                reason = "the history file is read-only"
            elif "malformed" in text or "corrupt" in text:
                reason = "the history file is damaged (what can be read is recovered at the next start)"
                self.mark_for_check()
            else:
                reason = f"the disk reported a problem ({exc})"
            raise StoreWriteError(f"Your history could not be saved: {reason}.") from exc
        self._announce()
        return result

    return cast(Method, wrapper)


def check_marker(history: Path) -> Path:
    return history.with_name(history.name + NEEDS_CHECK_SUFFIX)


CONVERSATION_COLUMNS = "id, title, created_at, updated_at, provider, model, system_prompt, temperature, current_leaf_id, pinned, uid, tools"
MESSAGE_COLUMNS = (
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
    # Which part of the message matched: "text" (what it says) or "reasoning".
    part: str = "text"


def part_row(part: Part) -> tuple[str, str, str | None]:
    """(kind, text, data as JSON) of a part, as message_parts keeps it."""
    if isinstance(part, ToolCallPart):
        # Its arguments and result are searched (parts_fts indexes `text`); the rest is data.
        data: dict[str, object] = {
            "call_id": part.call_id,
            "name": part.name,
            "server": part.server,
            "server_id": part.server_id,
            "tool": part.tool,
            "status": part.status,
            "arguments_length": len(part.arguments),
        }
        if part.images:
            data["images"] = [_attachment_data(image) | {"name": image.name} for image in part.images]
        return "tool_call", part.arguments + "\n" + part.result, json.dumps(data, ensure_ascii=False)
    if isinstance(part, AttachmentPart):
        # Its name, then a document's text: both searched (parts_fts indexes `text`).
        return "attachment", f"{part.name}\n{part.text}", json.dumps(_attachment_data(part))
    if isinstance(part, ReasoningPart):
        data = {k: v for k, v in (("seconds", part.seconds), ("opaque", part.opaque)) if v is not None}
        return "reasoning", part.text, json.dumps(data, ensure_ascii=False) if data else None
    return "text", part.text, None


def _attachment_data(part: AttachmentPart) -> dict[str, object]:
    found: dict[str, object] = {"mime": part.mime, "digest": part.digest, "size": part.size}
    return found | {k: v for k, v in (("width", part.width), ("height", part.height), ("source", part.source)) if v}


def _object(data: str | None) -> dict[str, Any]:
    try:
        found = json.loads(data) if data else {}
    except ValueError:
        found = {}
    return found if isinstance(found, dict) else {}


def _number(found: dict[str, Any], key: str) -> int | None:
    value = found.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _attachment(name: str, body: str, found: dict[str, Any]) -> AttachmentPart:
    return AttachmentPart(
        name=name,
        mime=str(found.get("mime") or "application/octet-stream"),
        digest=str(found.get("digest") or ""),
        size=_number(found, "size") or 0,
        text=body,
        width=_number(found, "width"),
        height=_number(found, "height"),
        source=str(found.get("source") or ""),
    )


def part_of(kind: str, text: str, data: str | None) -> Part:
    """The part a message_parts row holds; a kind this version does not know is shown as text."""
    if kind == "attachment":
        name, _, body = text.partition("\n")
        return _attachment(name, body, _object(data))
    if kind == "tool_call":
        found = _object(data)
        split = _number(found, "arguments_length")
        split = split if split is not None and 0 <= split <= len(text) else len(text)
        images = found.get("images")
        return ToolCallPart(
            call_id=str(found.get("call_id") or ""),
            name=str(found.get("name") or ""),
            arguments=text[:split],
            server=str(found.get("server") or ""),
            server_id=str(found.get("server_id") or ""),
            tool=str(found.get("tool") or ""),
            status=str(found.get("status") or TOOL_NOT_RUN),
            result=text[split + 1 :],
            images=tuple(_attachment(str(i.get("name") or "image"), "", i) for i in images or () if isinstance(i, dict))
            if isinstance(images, list)
            else (),
        )
    if kind == "reasoning":
        try:
            fields = json.loads(data) if data else {}
        except ValueError:
            fields = {}
        if not isinstance(fields, dict):
            fields = {}
        seconds = fields.get("seconds")
        opaque = fields.get("opaque")
        return ReasoningPart(
            text,
            float(seconds) if isinstance(seconds, int | float) and not isinstance(seconds, bool) else None,
            opaque if isinstance(opaque, dict) else None,
        )
    return TextPart(text)


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
    (cid, title, created, updated, provider, model, prompt, temperature, leaf, pinned, uid, tools) = row
    return Conversation(
        cid, title, created, updated, provider, model, prompt, temperature, leaf, bool(pinned), uid or "", bool(tools)
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
    parts: tuple[Part, ...] = ()


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
    tools: bool = True


class HistoryStore:
    def __init__(
        self, path: Path | str, clock: Callable[[], float] = time.time, progress: Progress | None = None
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._progress = progress
        # The copy kept before this version changed the file's schema, if it did.
        self.backup: Path | None = None
        self._last_time = 0.0
        self._listeners: list[ChangeListener] = []
        # Conversations a write in progress has changed; announced once it succeeded.
        self._changes: list[int | None] = []
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if not self.path.exists():
                # Create it private before SQLite writes anything into it.
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        from .attachments import AttachmentStore

        # Files attached to messages, beside the history (core/attachments.py).
        self.attachments = AttachmentStore(None if str(path) == ":memory:" else self.path.parent / "attachments")
        self.db = sqlite3.connect(str(path), isolation_level=None)
        try:
            # Check the version before anything writes: a newer app's file stays byte-for-byte as it was.
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            self._refuse_newer(version)
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            self._migrate(version)
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            # (Text a damaged page has made into bytes that are not UTF-8 is damage too.)
            self.db.close()
            raise StoreError(f"The history file {self.path} cannot be read: {exc}") from exc
        except StoreError:
            self.db.close()
            raise

    def _refuse_newer(self, version: int) -> None:
        if version > len(MIGRATIONS):
            raise NewerHistory(
                f"The history file {self.path} was written by a newer version of Desktop Chat "
                f"(schema {version}, this app knows {len(MIGRATIONS)}). It was left untouched; "
                "please update the app."
            )

    def _migrate(self, version: int) -> None:
        pending = MIGRATIONS[version:]
        if not pending:
            return
        # A new file has nothing to keep a copy of, and nothing to wait for: no progress told.
        told = self._progress if version > 0 else None
        if version > 0 and str(self.path) != ":memory:":
            self.backup = self._back_up(version)
        for number, migration in enumerate(pending, start=version + 1):
            if told is not None:
                told("Updating your history for this version", (number - version - 1) / len(pending))
            with self.db:
                self.db.execute("BEGIN")
                migration(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")
        if told is not None:
            told("Updating your history for this version", 1.0)

    def _back_up(self, version: int) -> Path:
        """A copy of the history as it is, before a migration changes it (SQLite's online
        backup, page by page, so progress can be told); private like the history."""
        target = self.path.with_name(f"{self.path.name}.before-schema-{len(MIGRATIONS)}")
        partial = target.with_name(target.name + ".partial")

        def told(_status: int, remaining: int, total: int) -> None:
            if self._progress is not None and total:
                self._progress("Keeping a copy of your history", 1 - remaining / total)

        try:
            partial.unlink(missing_ok=True)
            os.close(os.open(partial, os.O_CREAT | os.O_WRONLY, 0o600))
            copy = sqlite3.connect(str(partial))
            try:
                self.db.backup(copy, pages=4096, progress=told)
            finally:
                copy.close()
            partial.replace(target)
        except (OSError, sqlite3.DatabaseError) as exc:
            try:
                partial.unlink(missing_ok=True)
            except OSError:
                pass
            raise UpdateBlocked(
                f"Your history needs an update for this version, and a copy of it could not be kept first "
                f"({exc}); it was left as it was. Make room on the disk and start the app again."
            ) from exc
        return target

    def check(self) -> str | None:
        """SQLite's quick integrity check: None when the file is sound, else what is wrong."""
        try:
            rows = [r[0] for r in self.db.execute("PRAGMA quick_check")]
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            return str(exc)
        return None if rows == ["ok"] else "; ".join(rows[:3])

    def close(self) -> None:
        self.db.close()

    def subscribe(self, listener: ChangeListener) -> None:
        """Call `listener` after each write that changes a conversation's place or look in a list."""
        self._listeners.append(listener)

    def _changed(self, conversation_id: int | None) -> None:
        self._changes.append(conversation_id)

    def _announce(self) -> None:
        changes, self._changes = list(dict.fromkeys(self._changes)), []
        for conversation_id in changes:
            for listener in list(self._listeners):
                listener(conversation_id)

    def mark_for_check(self) -> None:
        """Have the next start check this file (and recover it if it is damaged)."""
        if str(self.path) != ":memory:":
            try:
                check_marker(self.path).touch(mode=0o600)
            except OSError:
                pass  # the start-up check runs anyway on files below its size limit

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
        self._changed(cur.lastrowid)
        return Conversation(cur.lastrowid or 0, title, now, now, provider, model, system_prompt, temperature, uid=uid)

    def conversation(self, conversation_id: int) -> Conversation | None:
        row = self.db.execute(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,)
        ).fetchone()
        return _conversation(row) if row else None

    def conversations(self, offset: int = 0, limit: int = -1) -> list[Conversation]:
        """Conversations as the sidebar lists them: pinned first, then by last activity."""
        rows = self.db.execute(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE deleted_at IS NULL "
            "ORDER BY pinned DESC, updated_at DESC, id DESC LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [_conversation(row) for row in rows]

    def latest_conversation(self) -> Conversation | None:
        """The conversation with the latest activity, pinned or not (not one in the trash)."""
        row = self.db.execute(
            f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE deleted_at IS NULL "
            "ORDER BY updated_at DESC, id DESC LIMIT 1"
        ).fetchone()
        return _conversation(row) if row else None

    def in_trash(self, conversation_id: int) -> bool:
        row = self.db.execute("SELECT deleted_at FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
        return row is not None and row[0] is not None

    def count_conversations(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM conversations WHERE deleted_at IS NULL").fetchone()[0])

    @_writes
    def set_pinned(self, conversation_id: int, pinned: bool) -> None:
        self.db.execute("UPDATE conversations SET pinned = ? WHERE id = ?", (int(pinned), conversation_id))
        self._changed(conversation_id)

    @_writes
    def trash_conversation(self, conversation_id: int) -> None:
        """Hide it everywhere, undoably; purge_trash() deletes it for good."""
        self.db.execute("UPDATE conversations SET deleted_at = ? WHERE id = ?", (self._clock(), conversation_id))
        self._changed(conversation_id)

    @_writes
    def restore_conversation(self, conversation_id: int) -> None:
        self.db.execute("UPDATE conversations SET deleted_at = NULL WHERE id = ?", (conversation_id,))
        self._changed(conversation_id)

    @_writes
    def purge_trash(self) -> int:
        cur = self.db.execute("DELETE FROM conversations WHERE deleted_at IS NOT NULL")
        if cur.rowcount:
            self._changed(None)
            self.attachments.keep_only(self.attachment_digests())
        return cur.rowcount

    def attachment_digests(self) -> set[str]:
        """Every attachment some message (in the trash too: Undo) still has."""
        rows = self.db.execute(
            "SELECT json_extract(data, '$.digest') FROM message_parts WHERE kind = 'attachment'"
            " UNION SELECT json_extract(image.value, '$.digest') FROM message_parts, json_each(data, '$.images') AS image"
            " WHERE kind = 'tool_call' AND json_valid(data)"
        )
        return {row[0] for row in rows if isinstance(row[0], str)}

    def conversation_by_uid(self, uid: str) -> Conversation | None:
        row = self.db.execute(f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE uid = ?", (uid,)).fetchone()
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
        # The answer's text and the other parts' (reasoning) are indexed apart; each side
        # is walked newest first and stops at what the page needs.
        rows = self.db.execute(
            "SELECT m.conversation_id, m.id, c.title, m.role, m.created_at, f.snip, f.part FROM ("
            " SELECT * FROM (SELECT rowid AS id, snippet(messages_fts, 0, char(2), char(3), '…', 16) AS snip,"
            "  'text' AS part FROM messages_fts WHERE messages_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?2 + ?3)"
            " UNION ALL"
            " SELECT * FROM (SELECT p.message_id AS id, snippet(parts_fts, 0, char(2), char(3), '…', 16) AS snip,"
            "  p.kind AS part FROM parts_fts JOIN message_parts p ON p.id = parts_fts.rowid"
            "  WHERE parts_fts MATCH ?1 ORDER BY parts_fts.rowid DESC LIMIT ?2 + ?3)"
            " ORDER BY id DESC LIMIT ?2 OFFSET ?3) f "
            "JOIN messages m ON m.id = f.id JOIN conversations c ON c.id = m.conversation_id "
            "WHERE c.deleted_at IS NULL ORDER BY f.id DESC",
            (query, limit, offset),
        )
        hits: dict[int, SearchHit] = {}
        for cid, mid, title, role, created, snippet, part in rows:
            # One hit a message (its text rather than its reasoning, when both match).
            if mid not in hits or (part == "text" and hits[mid].part != "text"):
                hits[mid] = SearchHit(cid, mid, title, role, created, _snippet_html(snippet), part)
        return list(hits.values())

    _EDITABLE = {"title", "provider", "model", "system_prompt", "temperature", "current_leaf_id", "pinned", "tools"}

    @_writes
    def update_conversation(self, conversation_id: int, **fields: Any) -> None:
        unknown = set(fields) - self._EDITABLE
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        if not fields:
            return
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self.db.execute(f"UPDATE conversations SET {assignments} WHERE id = ?", (*fields.values(), conversation_id))
        self._changed(conversation_id)

    @_writes
    def rename_providers(self, names: dict[str, str]) -> int:
        """Conversations that name a provider by an old name (a key of `names`) name it by the
        new one from now on, all in one statement (so that two names can trade places);
        returns how many changed."""
        if not names:
            return 0
        cases = " ".join("WHEN ? THEN ?" for _ in names)
        marks = ", ".join("?" for _ in names)
        cur = self.db.execute(
            f"UPDATE conversations SET provider = CASE provider {cases} END WHERE provider IN ({marks})",
            (*(name for pair in names.items() for name in pair), *names),
        )
        if cur.rowcount:
            self._changed(None)
        return cur.rowcount

    @_writes
    def touch(self, conversation_id: int) -> None:
        self.db.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (self._now(), conversation_id))
        self._changed(conversation_id)

    @_writes
    def delete_conversation(self, conversation_id: int) -> None:
        self.db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
        self._changed(conversation_id)

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
        parts: tuple[Part, ...] = (),
    ) -> Message:
        """Append a message and make it the conversation's current branch tip (`parts`:
        its parts when it has more than its text; `content` is then their text)."""
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
            if parts:
                self._write_parts(message_id, parts)
            self.db.execute(
                "UPDATE conversations SET current_leaf_id = ?, updated_at = ? WHERE id = ?",
                (message_id, now, conversation_id),
            )
        self._changed(conversation_id)
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
            parts=parts,
        )

    @_writes
    def update_message(
        self, message_id: int, parts: tuple[Part, ...] | None = None, unchanged: int = 0, **fields: Any
    ) -> None:
        """Change a message's fields; `parts` (when given) replaces its parts, and its
        content becomes their text (give parts=() to make it its content alone). The first
        `unchanged` parts are as stored already: only those after them are written."""
        allowed = {"content", "status", "error", "prompt_tokens", "completion_tokens", "finish_reason"}
        if set(fields) - allowed:
            raise ValueError(f"not editable: {sorted(set(fields) - allowed)}")
        with self.db:
            self.db.execute("BEGIN")
            if parts is not None:
                self._write_parts(message_id, parts, unchanged)
                if parts:
                    fields["content"] = text_of(parts)
            if fields:
                assignments = ", ".join(f"{name} = ?" for name in fields)
                self.db.execute(f"UPDATE messages SET {assignments} WHERE id = ?", (*fields.values(), message_id))

    def _write_parts(self, message_id: int, parts: tuple[Part, ...], unchanged: int = 0) -> None:
        self.db.execute("DELETE FROM message_parts WHERE message_id = ? AND position >= ?", (message_id, unchanged))
        self.db.executemany(
            "INSERT INTO message_parts (message_id, position, kind, text, data) VALUES (?, ?, ?, ?, ?)",
            [(message_id, position, *part_row(part)) for position, part in enumerate(parts) if position >= unchanged],
        )

    def _parts_of(self, where: str, value: int) -> dict[int, tuple[Part, ...]]:
        found: dict[int, list[Part]] = {}
        rows = self.db.execute(
            f"SELECT message_id, kind, text, data FROM message_parts WHERE message_id IN ({where}) "
            "ORDER BY message_id, position",
            (value,),
        )
        for message_id, kind, text, data in rows:
            found.setdefault(message_id, []).append(part_of(kind, text, data))
        return {message_id: tuple(parts) for message_id, parts in found.items()}

    def message(self, message_id: int) -> Message | None:
        row = self.db.execute(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)).fetchone()
        if not row:
            return None
        message = _message(row)
        message.parts = self._parts_of("?", message_id).get(message_id, ())
        return message

    def tree(self, conversation_id: int) -> MessageTree:
        rows = self.db.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id", (conversation_id,)
        )
        messages = [_message(row) for row in rows]
        parts = self._parts_of("SELECT id FROM messages WHERE conversation_id = ?", conversation_id)
        for message in messages:
            message.parts = parts.get(message.id, ())
        return MessageTree.of(messages)

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
                " pinned, uid, tools) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    int(data.tools),
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
                            text_of(m.parts) if m.parts else m.content,
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
                    if m.parts:
                        self._write_parts(ids[m.uid], m.parts)
                    progressed = True
                if not progressed:
                    raise ValueError(f"conversation {data.uid}: messages whose parents are missing")
                pending = rest
            leaf = ids.get(data.current_leaf_uid) if data.current_leaf_uid else None
            self.db.execute("UPDATE conversations SET current_leaf_id = ? WHERE id = ?", (leaf, conversation_id))
        self._changed(conversation_id)
        return conversation_id

    @_writes
    def mark_interrupted(self) -> int:
        """Replies left 'streaming' by a crash become 'interrupted'; returns how many."""
        cur = self.db.execute("UPDATE messages SET status = ? WHERE status = ?", (INTERRUPTED, STREAMING))
        return cur.rowcount


# Markdown's marks in a passage shown out of context: **bold**, `code`, a fence's
# language, # headings, > quotes, list bullets, [link](address) and [link][1] -> link,
# "[1]: address" definitions -> nothing.
_MARKDOWN_MARKS = (
    (r"```[\w+#.-]*", ""),
    (r"(^|\s)\[[^\]\n]+\]:\s*\S+", r"\1"),
    (r"\[([^\]]*)\]\[[^\]]*\]", r"\1"),
    (r"\[([^\]]*)\]\([^)]*\)", r"\1"),
    (r"(^|\s)(#{1,6}|>|[-*+]|\d+\.)\s+", r"\1"),
    (r"(\*\*|__|\*|`{1,3}|~~)", ""),
)


def _snippet_html(snippet: str) -> str:
    import html
    import re

    for pattern, replacement in _MARKDOWN_MARKS:
        snippet = re.sub(pattern, replacement, snippet)
    return html.escape(snippet).replace("\x02", "<b>").replace("\x03", "</b>")
