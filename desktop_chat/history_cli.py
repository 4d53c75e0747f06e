"""The history verbs of the command line: list, search, show, export, import. No network, no key."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .core.exchange import EXPORT_FORMATS, ImportFailed, export_file, export_markdown, import_file
from .core.paths import AppPaths
from .core.profile import close_history, open_history
from .core.store import HistoryStore, StoreError
from .errors import SaveFailed


def _fail(message: str, code: int = 1) -> int:
    print(f"desktop-chat: {message}", file=sys.stderr)
    return code


def _when(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp))


def run_history_command(args: argparse.Namespace, paths: AppPaths) -> int:
    notices: list[str] = []
    try:
        store = open_history(paths, notices)
    except (StoreError, OSError) as exc:
        return _fail(str(exc))
    for notice in notices:
        print(f"desktop-chat: {notice}", file=sys.stderr)
    try:
        if args.command == "history":
            return _history(args, store)
        if args.command == "export":
            return _export(args, store)
        return _import(args, store)
    finally:
        close_history(paths, store)


def _history(args: argparse.Namespace, store: HistoryStore) -> int:
    out = sys.stdout
    if args.history_command == "list":
        conversations = store.conversations(limit=args.limit)
        if args.json:
            json.dump(
                [
                    {"id": c.id, "title": c.title, "updated_at": c.updated_at, "pinned": c.pinned, "model": c.model}
                    for c in conversations
                ],
                out,
                ensure_ascii=False,
                indent=1,
            )
            out.write("\n")
        for c in [] if args.json else conversations:
            out.write(f"{c.id:>6}  {_when(c.updated_at)}  {'* ' if c.pinned else ''}{c.title or 'New chat'}\n")
        return 0
    if args.history_command == "search":
        hits = store.search_messages(args.query, limit=args.limit)
        if args.json:
            json.dump(
                [
                    {
                        "conversation_id": h.conversation_id,
                        "message_id": h.message_id,
                        "title": h.title,
                        "role": h.role,
                        "created_at": h.created_at,
                        "snippet": h.snippet.replace("<b>", "").replace("</b>", ""),
                    }
                    for h in hits
                ],
                out,
                ensure_ascii=False,
                indent=1,
            )
            out.write("\n")
            return 0
        import html

        for h in hits:
            snippet = html.unescape(h.snippet.replace("<b>", "[").replace("</b>", "]"))
            out.write(f"{h.conversation_id:>6}  {h.title or 'New chat'}\n        {snippet}\n")
        return 0 if hits else 1
    conversation = store.conversation(args.id)
    if conversation is None:
        return _fail(f"no conversation with id {args.id}")
    path = store.tree(conversation.id).path_to(conversation.current_leaf_id)
    if args.json:
        json.dump(
            {
                "id": conversation.id,
                "title": conversation.title,
                "messages": [
                    {
                        "id": m.id,
                        "role": m.role,
                        "content": m.content,
                        "model": m.model,
                        "status": m.status,
                        "created_at": m.created_at,
                    }
                    for m in path
                ],
            },
            out,
            ensure_ascii=False,
            indent=1,
        )
        out.write("\n")
    else:
        out.write(export_markdown(store, [conversation.id]) + "\n")
    return 0


def _export(args: argparse.Namespace, store: HistoryStore) -> int:
    missing = [i for i in args.ids if store.conversation(i) is None]
    if missing:
        return _fail(f"no conversation with id {', '.join(map(str, missing))}")
    if not args.out:
        text = EXPORT_FORMATS[args.format].write(store, args.ids or None)
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return 0
    try:
        export_file(store, args.format, Path(args.out), args.ids or None)
    except OSError as exc:
        return _fail(f"could not write {args.out}: {exc.strerror or exc}")
    print(f"Exported {len(args.ids) or store.count_conversations()} conversations to {args.out}", file=sys.stderr)
    return 0


def _import(args: argparse.Namespace, store: HistoryStore) -> int:
    try:
        report = import_file(store, args.kind, Path(args.file).expanduser())
    except (ImportFailed, SaveFailed) as exc:
        return _fail(str(exc))
    print(report.summary())
    return 0
