"""Recovering a damaged history: what SQLite can still read, then rows read straight off
intact pages (core/salvage.py), copied into a fresh store. The damaged file is only read."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

from .conversation import COMPLETE
from .store import CONVERSATION_COLUMNS, MESSAGE_COLUMNS, HistoryStore


def _readable_rows(db: sqlite3.Connection, table: str, columns: str) -> Any:
    """Yield what can still be read of a table, in rowid order, stepping over damaged pages."""
    last, failures = 0, 0
    while failures < 2000:
        try:
            rows = db.execute(
                f"SELECT rowid, {columns} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT 200", (last,)
            ).fetchall()
        except (sqlite3.DatabaseError, UnicodeDecodeError):
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

    conversation_fields = CONVERSATION_COLUMNS.replace(" ", "").split(",")
    message_fields = MESSAGE_COLUMNS.replace(" ", "").split(",")
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
        "tools",
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
            9 <= len(values) <= 13
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
    # Damaged pages can turn text into bytes that are not UTF-8 (a table's name too): read
    # what is there, with U+FFFD where a byte is wrong, rather than stop.
    source.text_factory = lambda data: data.decode("utf-8", "replace")
    conversations = messages = 0
    try:
        try:
            tables = {r[0] for r in source.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            columns_of = {
                t: [r[1] for r in source.execute(f"PRAGMA table_info({t})")] for t in ("conversations", "messages")
            }
        except (sqlite3.DatabaseError, UnicodeDecodeError):  # (SQLite's message can quote damaged bytes)
            return 0, 0
        if not {"conversations", "messages"} <= tables:
            return 0, 0
        wanted_c = [c for c in CONVERSATION_COLUMNS.replace(" ", "").split(",") if c in columns_of["conversations"]]
        wanted_m = [c for c in MESSAGE_COLUMNS.replace(" ", "").split(",") if c in columns_of["messages"]]
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
            if "message_parts" in tables:
                # The parts that can still be read come back (a message that lost them shows its text).
                parts: dict[int, list[tuple[Any, ...]]] = {}
                for row in _readable_rows(source, "message_parts", "message_id, position, kind, text, data"):
                    if row[1] in known_messages:
                        parts.setdefault(row[1], []).append(row[1:])
                for rows in parts.values():
                    try:
                        store.db.executemany(
                            "INSERT INTO message_parts (message_id, position, kind, text, data) VALUES (?, ?, ?, ?, ?)",
                            rows,
                        )
                    except sqlite3.DatabaseError:
                        continue
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
