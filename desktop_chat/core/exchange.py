"""Export to Markdown, JSON (lossless) and HTML; import our JSON and ChatGPT's data export."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import html
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from desktop_chat.errors import DesktopChatError

from .conversation import (
    TOOL_STATUS_WORDS,
    AttachmentPart,
    Conversation,
    Message,
    MessageTree,
    Part,
    ReasoningPart,
    TextPart,
    ToolCallPart,
    rounds_of,
    thought_label,
    tool_calls,
)
from .files import write_private
from .migrations import thoughts_text
from .store import HistoryStore, ImportedConversation, ImportedMessage, StoreWriteError

if TYPE_CHECKING:
    import zipfile

FORMAT = "desktop-chat-history"
VERSION = 1


class ImportFailed(DesktopChatError):
    """The file is not something we can import; the message says why, for the user."""


@dataclass
class ImportReport:
    imported: int = 0
    skipped: int = 0  # already in the history (same id)
    messages: int = 0
    unsupported_parts: dict[str, int] = field(default_factory=dict)
    # Images a ChatGPT export points to: attached from its zip; not in what was imported;
    # in the zip but not an image that could be read (these two keep their note and data).
    images: int = 0
    images_missing: int = 0
    images_unreadable: int = 0

    def summary(self) -> str:
        text = f"Imported {self.imported} conversations ({self.messages} messages)"
        if self.skipped:
            text += f"; {self.skipped} were already in your history"
        if self.images:
            text += f"; {_images(self.images)} attached from the export"
        if self.images_missing:
            were = "was" if self.images_missing == 1 else "were"
            text += f"; {_images(self.images_missing)} {were} not in the file imported"
        if self.images_unreadable:
            text += f"; {_images(self.images_unreadable)} in the zip could not be read"
        if self.unsupported_parts:
            parts = ", ".join(f"{n} {kind}" for kind, n in sorted(self.unsupported_parts.items()))
            text += f"; kept but not shown as text: {parts}"
        return text + "."


def _images(count: int) -> str:
    return f"{count} image" if count == 1 else f"{count} images"


def _selected(store: HistoryStore, ids: Iterable[int] | None) -> Iterator[tuple[Conversation, MessageTree]]:
    conversations = [store.conversation(i) for i in ids] if ids else store.conversations()
    for conversation in conversations:
        if conversation is not None:
            yield conversation, store.tree(conversation.id)


# Export


def export_json(store: HistoryStore, ids: Iterable[int] | None = None) -> str:
    """Everything, every branch and field: re-importing it gives the same history."""
    out = []
    for conversation, tree in _selected(store, ids):
        messages = sorted(tree.messages.values(), key=lambda m: m.id)
        uid_of = {m.id: m.uid for m in messages}
        leaf = tree.messages.get(conversation.current_leaf_id) if conversation.current_leaf_id else None
        out.append(
            {
                "uid": conversation.uid,
                "title": conversation.title,
                "created_at": conversation.created_at,
                "updated_at": conversation.updated_at,
                "provider": conversation.provider,
                "model": conversation.model,
                "system_prompt": conversation.system_prompt,
                "temperature": conversation.temperature,
                "pinned": conversation.pinned,
                "tools": conversation.tools,
                "current_leaf": leaf.uid if leaf else None,
                "messages": [
                    {
                        "uid": m.uid,
                        "parent": uid_of.get(m.parent_id) if m.parent_id else None,
                        "role": m.role,
                        "content": m.content,
                        "status": m.status,
                        "error": m.error,
                        "provider": m.provider,
                        "model": m.model,
                        "prompt_tokens": m.prompt_tokens,
                        "completion_tokens": m.completion_tokens,
                        "finish_reason": m.finish_reason,
                        "created_at": m.created_at,
                        "extra": m.extra,
                        **({"parts": [_part_json(p, store) for p in m.parts]} if m.parts else {}),
                    }
                    for m in messages
                ],
            }
        )
    return json.dumps(
        {"format": FORMAT, "version": VERSION, "exported_at": time.time(), "conversations": out},
        ensure_ascii=False,
        indent=1,
    )


def _part_json(part: Part, store: HistoryStore | None = None) -> dict[str, Any]:
    if isinstance(part, AttachmentPart):
        attached: dict[str, Any] = {"kind": "attachment"}
        attached |= {k: v for k, v in dataclasses.asdict(part).items() if v not in (None, "")}
        if part.image and store is not None:
            # An image's bytes go with it (a document's text is its content).
            data = store.attachments.get(part.digest)
            if data is not None:
                attached["data"] = base64.b64encode(data).decode("ascii")
        return attached
    if isinstance(part, ReasoningPart):
        out: dict[str, Any] = {"kind": "reasoning", "text": part.text}
        if part.seconds is not None:
            out["seconds"] = part.seconds
        if part.opaque is not None:
            out["opaque"] = part.opaque
        return out
    if isinstance(part, ToolCallPart):
        call: dict[str, Any] = {"kind": "tool_call"}
        call |= {k: v for k, v in dataclasses.asdict(part).items() if k != "images" and v not in (None, "")}
        if part.images:
            call["images"] = [_part_json(image, store) for image in part.images]
        return call
    return {"kind": "text", "text": part.text}


def _part_from_json(data: Any, store: HistoryStore | None = None) -> Part:
    if not isinstance(data, dict) or not isinstance(data.get("text", ""), str):
        raise ValueError(f"a message part that is not a part: {str(data)[:60]}")
    if data.get("kind") == "attachment":
        fields = {f.name for f in dataclasses.fields(AttachmentPart)}
        part = AttachmentPart(**{k: v for k, v in data.items() if k in fields})
        if isinstance(data.get("data"), str) and store is not None:
            kept = base64.b64decode(data["data"])
            if store.attachments.put(kept) != part.digest:
                raise ValueError(f"the bytes of {part.name} are not the ones its digest names")
        elif not part.image and part.text and store is not None:
            store.attachments.put(part.text.encode("utf-8"))
        return part
    if data.get("kind") == "tool_call":
        fields = {f.name for f in dataclasses.fields(ToolCallPart)} - {"images"}
        values = {k: v for k, v in data.items() if k in fields}
        if not all(isinstance(v, str) for v in values.values()):
            raise ValueError(f"a tool call whose fields are not text: {str(data)[:60]}")
        images = data.get("images")
        found = [_part_from_json(i, store) for i in images] if isinstance(images, list) else []
        return ToolCallPart(
            **{"call_id": "", "name": "", "arguments": ""} | values,
            images=tuple(i for i in found if isinstance(i, AttachmentPart)),
        )
    if data.get("kind") == "reasoning":
        seconds = data.get("seconds")
        opaque = data.get("opaque")
        return ReasoningPart(
            data.get("text", ""),
            float(seconds) if isinstance(seconds, int | float) and not isinstance(seconds, bool) else None,
            opaque if isinstance(opaque, dict) else None,
        )
    return TextPart(data.get("text", ""))


def _speaker(message: Message) -> str:
    if message.role == "user":
        return "You"
    if message.role == "assistant":
        return f"Assistant ({message.model})" if message.model else "Assistant"
    return message.role.capitalize()


def export_markdown(store: HistoryStore, ids: Iterable[int] | None = None) -> str:
    """The branch each conversation shows, as readable Markdown."""
    parts = []
    for conversation, tree in _selected(store, ids):
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(conversation.created_at))
        lines = [f"# {conversation.title or 'New chat'}", "", f"_{when}_", ""]
        if conversation.system_prompt:
            lines += ["> System prompt: " + conversation.system_prompt.replace("\n", "\n> "), ""]
        for message in tree.path_to(conversation.current_leaf_id):
            lines += [f"**{_speaker(message)}:**", ""]
            reasoning = message.reasoning
            if reasoning is not None:
                # A <details> block: folded on GitHub and in most Markdown viewers.
                lines += [f"<details><summary>{html.escape(thought_label(reasoning))}</summary>", ""]
                lines += [reasoning.text, "", "</details>", ""] if reasoning.text else ["</details>", ""]
            attached = [p for p in message.parts if isinstance(p, AttachmentPart)]
            if attached:
                lines += ["_Attached: " + ", ".join(p.name for p in attached) + "_", ""]
            rounds = rounds_of(message.parts, message.status)
            for round_ in rounds:  # (a reply that used tools, in the order it happened)
                lines += [round_.text, ""] if round_.text else []
                for call in round_.calls:
                    lines += [f"<details><summary>{html.escape(tool_call_label(call))}</summary>", ""]
                    lines += [_fenced(call.arguments or "{}", "json"), "", _fenced(call.result), "", "</details>", ""]
            if not rounds and (message.content or (reasoning is None and not attached)):
                lines += [message.content or "_(no text)_", ""]
        parts.append("\n".join(lines))
    return "\n---\n\n".join(parts)


def tool_call_label(call: ToolCallPart) -> str:
    """ "Tool get_time (time): done", as the exports say it."""
    where = f" ({call.server})" if call.server else ""
    return f"Tool {call.tool or call.name}{where}: {TOOL_STATUS_WORDS.get(call.status, call.status).lower()}"


def _fenced(text: str, language: str = "") -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}{language}\n{text}\n{fence}"


HTML_PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; line-height: 1.5; color: #1f2328; }}
.who {{ font-weight: 600; margin-top: 1.5rem; }} .when {{ color: #656d76; }}
.thought {{ color: #656d76; border-left: 2px solid #d0d7de; padding-left: .75rem; margin: .5rem 0; }}
pre {{ background: #f4f5f7; padding: .75rem; overflow-x: auto; }} table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #c4c7c5; padding: .25rem .5rem; }} hr {{ margin: 3rem 0; }}
</style></head><body>
{body}
</body></html>
"""


def _attachment_html(store: HistoryStore, part: AttachmentPart) -> str:
    """An attached image in the page itself (a data: URL: the page loads nothing), or a
    document folded under its name."""
    name = html.escape(part.name)
    if part.image:
        data = store.attachments.get(part.digest)
        if data is not None and part.mime in ("image/png", "image/jpeg"):
            url = f"data:{part.mime};base64,{base64.b64encode(data).decode('ascii')}"
            return f'<p><img src="{url}" alt="{name}" style="max-width: 100%"></p>'
        return f"<p>[image {name}: no longer kept]</p>"
    return f"<details class='file'><summary>{name}</summary><pre>{html.escape(part.text)}</pre></details>"


def export_html(store: HistoryStore, ids: Iterable[int] | None = None, math: str = "mathml") -> str:
    """A standalone page: no scripts, nothing remote (a CSP forbids it), model output rendered
    safely; formulas as MathML (or, for printing, as `math:` images the printer's document
    typesets)."""
    from .markdown import MarkdownRenderer

    renderer = MarkdownRenderer(math=math)
    sections = []
    titles = []
    for conversation, tree in _selected(store, ids):
        titles.append(conversation.title or "New chat")
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(conversation.created_at))
        body = [f"<h1>{html.escape(conversation.title or 'New chat')}</h1><p class='when'>{when}</p>"]
        for message in tree.path_to(conversation.current_leaf_id):
            body.append(f"<div class='who'>{html.escape(_speaker(message))}</div>")
            reasoning = message.reasoning
            if reasoning is not None:
                thought = renderer.render(reasoning.text).html.replace('<a href="copy:', '<a data-copy="')
                body.append(
                    f"<details class='thought'><summary>{html.escape(thought_label(reasoning))}</summary>"
                    f"{thought}</details>"
                )
            for part in message.parts:
                if isinstance(part, AttachmentPart):
                    body.append(_attachment_html(store, part))
            for call in tool_calls(message.parts, message.status):
                body.append(
                    f"<details class='thought'><summary>{html.escape(tool_call_label(call))}</summary>"
                    f"<pre>{html.escape(call.arguments or '{}')}</pre><pre>{html.escape(call.result)}</pre>"
                    + "".join(_attachment_html(store, image) for image in call.images)
                    + "</details>"
                )
            if message.role == "user":
                body.append("<p>" + html.escape(message.content).replace("\n", "<br>") + "</p>")
            else:
                # Copy links only mean something inside the app.
                rendered = renderer.render(message.content).html
                body.append(rendered.replace('<a href="copy:', '<a data-copy="'))
        sections.append("\n".join(body))
    title = titles[0] if len(titles) == 1 else "Desktop Chat history"
    return HTML_PAGE.format(title=html.escape(title), body="\n<hr>\n".join(sections))


# Import


def import_json(store: HistoryStore, text: str) -> ImportReport:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportFailed(f"This is not a JSON file ({exc.msg} at line {exc.lineno}).") from exc
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ImportFailed("This JSON file is not a Desktop Chat export.")
    if data.get("version", 0) > VERSION:
        raise ImportFailed("This export comes from a newer version of Desktop Chat; please update the app.")
    report = ImportReport()
    try:
        conversations = sorted(data.get("conversations", []), key=lambda c: c.get("created_at", 0.0))
        for c in conversations:
            _import_one(store, c, report)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        # Hand-edited or cut short: what came before this conversation is in.
        raise ImportFailed(f"This Desktop Chat export is damaged ({type(exc).__name__}: {exc}).") from exc
    return report


def _import_one(store: HistoryStore, c: dict[str, Any], report: ImportReport) -> None:
    messages = [
        ImportedMessage(
            uid=m["uid"],
            parent_uid=m.get("parent"),
            role=m["role"],
            content=m.get("content", ""),
            created_at=m.get("created_at", 0.0),
            status=m.get("status", "complete"),
            error=m.get("error"),
            provider=m.get("provider"),
            model=m.get("model"),
            prompt_tokens=m.get("prompt_tokens"),
            completion_tokens=m.get("completion_tokens"),
            finish_reason=m.get("finish_reason"),
            extra=m.get("extra"),
            parts=tuple(_part_from_json(p, store) for p in m.get("parts") or ()),
        )
        for m in c.get("messages", [])
    ]
    conversation = ImportedConversation(
        uid=c["uid"],
        title=c.get("title", ""),
        created_at=c.get("created_at", 0.0),
        updated_at=c.get("updated_at", 0.0),
        messages=messages,
        current_leaf_uid=c.get("current_leaf"),
        provider=c.get("provider"),
        model=c.get("model"),
        system_prompt=c.get("system_prompt", ""),
        temperature=c.get("temperature"),
        pinned=bool(c.get("pinned")),
        tools=c.get("tools") is not False,
    )
    _count(report, store.import_conversation(conversation), len(messages))


def _count(report: ImportReport, new_id: int | None, messages: int) -> None:
    if new_id is None:
        report.skipped += 1
    else:
        report.imported += 1
        report.messages += messages


def read_chatgpt_export(path: Path) -> Any:
    """conversations.json, or the zip from "Export data" that contains it."""
    import zipfile  # (with bz2 and lzma: only when a file is imported, not at every start)

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                name = next((n for n in archive.namelist() if n.rsplit("/", 1)[-1] == "conversations.json"), None)
                if name is None:
                    raise ImportFailed("The zip has no conversations.json; is it a ChatGPT data export?")
                return json.loads(archive.read(name))
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, zipfile.BadZipFile) as exc:
        raise ImportFailed(f"Could not read {path.name}: {exc}") from exc


# An image of a ChatGPT export: found and attached, or why not.
Found = AttachmentPart | Literal["missing", "unreadable"]
# The largest index of names an export may hold beside its files (read whole).
MAX_NAMES_BYTES = 16 * 1024 * 1024


class ExportImages:
    """The image files in ChatGPT's export zip, found by the file id an `asset_pointer`
    names, prepared as attachments and kept in the history's attachment store.

    What the exports were seen to hold (no schema is published): user uploads as
    `file-<id>-<original name>` at the root, DALL·E results as
    `dalle-generations/file-<id>-<uuid>.webp`, newer images as `file_<hex>-<uuid>.png` (in
    `user-<id>/` folders too) or `file_<hex>-sanitized.<ext>`, and since 2026 as
    `file-<id>.dat` with `conversation_asset_file_names.json` naming each. So a member
    is found by its name: the id alone, or the id followed by "-" or ".", in any folder.
    Members are read into memory, each at most MAX_FILE_BYTES by the size the zip states
    (a larger one is never read), never extracted; anything that is not an image that
    can be read is refused and the pointer keeps its note."""

    def __init__(self, store: HistoryStore, archive: zipfile.ZipFile | None = None) -> None:
        self.store = store
        self.archive = archive
        # The id-like beginnings of each member's name (up to each "-" or "."), and the
        # whole name: a pointer's id is looked up here.
        self.members: dict[str, list[zipfile.ZipInfo]] = {}
        # Original file names by member name, as conversation_asset_file_names.json gives them.
        self.names: dict[str, str] = {}
        self.prepared: dict[str, AttachmentPart | None] = {}
        if archive is None:
            return
        for info in archive.infolist():
            if info.is_dir():
                continue
            base = _basename(info.filename)
            if base == "conversation_asset_file_names.json":
                self.names |= self._names(archive, info)
                continue
            keys = {base} | {base[:i] for i, c in enumerate(base) if c in "-." and i}
            for key in keys:
                self.members.setdefault(key, []).append(info)

    @staticmethod
    def _names(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> dict[str, str]:
        try:
            names = json.loads(_member(archive, info, MAX_NAMES_BYTES) or b"null")
        except ValueError:
            return {}
        if not isinstance(names, dict):
            return {}
        return {_basename(k): v for k, v in names.items() if isinstance(k, str) and isinstance(v, str) and v}

    def find(self, pointer: object) -> Found:
        """The image an `image_asset_pointer` part names, prepared and kept; or why not."""
        ident = _pointer_id(pointer.get("asset_pointer") if isinstance(pointer, dict) else None)
        candidates = sorted(self.members.get(ident, ()) if ident else (), key=lambda i: i.filename)
        if not candidates:
            return "missing"
        for info in candidates:
            if info.filename not in self.prepared:
                self.prepared[info.filename] = self._prepare(info, self._name(info, ident or ""))
            part = self.prepared[info.filename]
            if part is not None:
                return part
        return "unreadable"

    def _name(self, info: zipfile.ZipInfo, ident: str) -> str:
        """The name the user gave the file, when the export says it; else "image"."""
        base = _basename(info.filename)
        name = _basename(self.names.get(base, ""))
        if not name and base.startswith(ident + "-"):
            name = base[len(ident) + 1 :]
        stem = name.rsplit(".", 1)[0]
        if not stem or stem == "sanitized" or _looks_like_uuid(stem):
            return "image"
        return name

    def _prepare(self, info: zipfile.ZipInfo, name: str) -> AttachmentPart | None:
        from .attachments import MAX_FILE_BYTES, AttachmentError, prepare_bytes

        data = _member(self.archive, info, MAX_FILE_BYTES) if self.archive is not None else None
        if data is None:
            return None
        try:
            prepared = prepare_bytes(data, name)
        except (AttachmentError, OSError, ValueError):
            return None
        if not prepared.part.image:
            return None  # text or a PDF where an image was meant: not what the pointer named
        try:
            self.store.attachments.put(prepared.data)
        except OSError as exc:
            raise StoreWriteError(f"The images of this import could not be kept: {exc.strerror or exc}.") from exc
        return prepared.part


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes | None:
    """A member's bytes; None when the zip says it is larger than `limit` (then it is not
    read at all), or when it cannot be read: damaged (its CRC), encrypted, compressed in a
    way this Python cannot read."""
    import lzma
    import zipfile
    import zlib

    if info.file_size > limit:
        return None
    try:
        with archive.open(info) as member:
            data = member.read(limit + 1)  # (zipfile stops at the stated size anyway)
    except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, OSError, EOFError, RuntimeError, NotImplementedError):
        return None
    return data if len(data) <= limit else None


def _basename(name: str) -> str:
    return name.replace("\\", "/").rsplit("/", 1)[-1]


def _pointer_id(pointer: object) -> str | None:
    """ "file-service://file-AbC" -> "file-AbC"; "sediment://file_00ab?x=y" -> "file_00ab"."""
    if not isinstance(pointer, str):
        return None
    rest = pointer.split("://", 1)[-1].split("?", 1)[0].split("#", 1)[0]
    return _basename(rest.rstrip("/")) or None


def _looks_like_uuid(text: str) -> bool:
    import re

    return re.fullmatch(r"[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", text) is not None


def _with_images(
    content: dict[str, Any], images: ExportImages, report: ImportReport | None
) -> tuple[list[AttachmentPart], list[dict[str, Any]], dict[str, Any]]:
    """(images found, the pointers they came from, the content without them) of a
    multimodal message; what was not found stays in the content, to be noted and kept.
    Counted in `report` when there is one."""
    if content.get("content_type") != "multimodal_text" or not isinstance(content.get("parts"), list):
        return [], [], content
    found: list[AttachmentPart] = []
    pointers: list[dict[str, Any]] = []
    rest: list[Any] = []
    for part in content["parts"]:
        if not isinstance(part, dict) or part.get("content_type") != "image_asset_pointer":
            rest.append(part)
            continue
        image = images.find(part)
        if isinstance(image, AttachmentPart):
            found.append(image)
            pointers.append(part)
        else:
            rest.append(part)
        if report is not None:
            if image == "missing":
                report.images_missing += 1
            elif image == "unreadable":
                report.images_unreadable += 1
            else:
                report.images += 1
    return found, pointers, ({**content, "parts": rest} if found else content)


def _hidden(message: dict[str, Any]) -> bool:
    metadata = message.get("metadata") or {}
    if message.get("weight") == 0 or metadata.get("is_visually_hidden_from_conversation"):
        return True
    content = message.get("content") or {}
    # The empty system message every conversation starts with.
    return message.get("author", {}).get("role") == "system" and not any(
        isinstance(p, str) and p.strip() for p in content.get("parts", []) or []
    )


def chatgpt_content(content: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str | None]:
    """(text to show, what could not be shown kept as data, the name of that kind) for one message."""
    kind = content.get("content_type", "text")
    if kind == "text":
        return "\n".join(p for p in content.get("parts", []) if isinstance(p, str)), None, None
    if kind == "code":
        return f"```{content.get('language') or ''}\n{content.get('text', '')}\n```", None, None
    if kind == "multimodal_text":
        texts, kept = [], []
        for part in content.get("parts", []):
            if isinstance(part, str):
                texts.append(part)
            else:
                kept.append(part)
                ptype = part.get("content_type", "part") if isinstance(part, dict) else "part"
                texts.append(f"[{ptype.replace('_', ' ')} not shown]")
        return "\n".join(texts), ({"parts": kept} if kept else None), ("image" if kept else None)
    if kind == "tether_quote":
        quote = "> " + content.get("text", "").replace("\n", "\n> ")
        source = content.get("title") or content.get("domain") or ""
        url = content.get("url", "")
        return f"{quote}\n\n— {source} {url}".rstrip(), None, None
    if kind == "tether_browsing_display":
        return content.get("result") or content.get("summary") or "", None, None
    if kind == "system_error":
        return f"[error: {content.get('name', '')}] {content.get('text', '')}".strip(), None, None
    # Anything else (thoughts, user_editable_context, future kinds): named and kept.
    return f"[{kind.replace('_', ' ')} not shown]", content, kind


def _recap_seconds(recap: str) -> float | None:
    """ "Thought for 1m 5s", "Thought for 12 seconds" -> seconds."""
    import re

    found = re.findall(r"(\d+(?:\.\d+)?)\s*(m|min|minute|minutes|s|sec|second|seconds)\b", recap)
    if not found:
        return None
    return sum(float(n) * (60 if unit.startswith("m") else 1) for n, unit in found)


def import_chatgpt(store: HistoryStore, path: Path) -> ImportReport:
    data = read_chatgpt_export(path)
    if isinstance(data, dict) and isinstance(data.get("conversations"), list):
        data = data["conversations"]
    if not isinstance(data, list):
        raise ImportFailed("This file does not look like ChatGPT's conversations.json.")
    report = ImportReport()
    # Oldest first, so the history's own order (newest first in search) matches time.
    data = sorted((c for c in data if isinstance(c, dict)), key=lambda c: float(c.get("create_time") or 0.0))
    with _export_archive(path) as archive:
        images = ExportImages(store, archive)
        for conversation in data:
            if "mapping" not in conversation:
                continue
            if store.conversation_by_uid(_chatgpt_uid(conversation)) is not None:
                report.skipped += 1  # (before its images are read again)
                continue
            imported = _chatgpt_conversation(conversation, report, images)
            _count(report, store.import_conversation(imported), len(imported.messages))
    return report


@contextlib.contextmanager
def _export_archive(path: Path) -> Iterator[zipfile.ZipFile | None]:
    """The export's zip, open while it is imported; None for conversations.json alone."""
    import zipfile

    try:
        archive = zipfile.ZipFile(path) if zipfile.is_zipfile(path) else None
    except (OSError, zipfile.BadZipFile) as exc:
        raise ImportFailed(f"Could not read {path.name}: {exc}") from exc
    try:
        yield archive
    finally:
        if archive is not None:
            archive.close()


def _chatgpt_uid(c: dict[str, Any]) -> str:
    return f"chatgpt:{c.get('id') or c.get('conversation_id')}"


def _chatgpt_conversation(c: dict[str, Any], report: ImportReport, images: ExportImages) -> ImportedConversation:
    """One conversation of the export, with the images `images` finds in its zip attached."""
    mapping: dict[str, Any] = c["mapping"]
    created = float(c.get("create_time") or 0.0)
    messages: list[ImportedMessage] = []
    uid_by_node: dict[str, str] = {}

    def visible_parent(node_id: str | None) -> str | None:
        # Hidden nodes are skipped: their children hang on the nearest shown ancestor.
        seen = set()
        while node_id is not None and node_id not in uid_by_node and node_id not in seen:
            seen.add(node_id)
            node_id = (mapping.get(node_id) or {}).get("parent")
        return node_id if node_id in uid_by_node else None

    # Walk the tree from the roots, so a parent is always handled before its children.
    order: list[str] = []
    stack = [k for k, n in mapping.items() if not n.get("parent") or n.get("parent") not in mapping]
    visited: set[str] = set()
    while stack:
        node_id = stack.pop()
        if node_id in visited:
            continue
        visited.add(node_id)
        order.append(node_id)
        stack.extend(reversed((mapping.get(node_id) or {}).get("children") or []))

    # Thoughts (and the "Thought for 12 seconds" recap after them) are not messages of
    # their own: they become the reasoning of the reply they lead to.
    thoughts: dict[str, ReasoningPart] = {}
    used: set[str] = set()

    def carried(node_id: str | None) -> ReasoningPart | None:
        found: list[ReasoningPart] = []
        seen = set()
        while node_id is not None and node_id not in uid_by_node and node_id not in seen:
            seen.add(node_id)
            if node_id in thoughts:
                found.append(thoughts[node_id])
                used.add(node_id)
            node_id = (mapping.get(node_id) or {}).get("parent")
        texts = [p.text for p in reversed(found) if p.text]
        seconds = [p.seconds for p in found if p.seconds is not None]
        return ReasoningPart("\n\n".join(texts), seconds[0] if seconds else None) if found else None

    for node_id in order:
        node = mapping[node_id]
        message = node.get("message")
        content = (message or {}).get("content") or {}
        if content.get("content_type") == "thoughts":
            thoughts[node_id] = ReasoningPart(thoughts_text(content) or "")
            continue
        if content.get("content_type") == "reasoning_recap":
            thoughts[node_id] = ReasoningPart("", _recap_seconds(str(content.get("content") or "")))
            continue
        if not message:
            continue
        author = message.get("author") or {}
        role = author.get("role", "assistant")
        if _hidden(message) and not (role == "tool" and _with_images(content, images, None)[0]):
            # (A tool's output the export hides is shown when it holds images the zip has:
            # where ChatGPT showed them, before the reply.)
            continue
        attached, pointers, content = _with_images(content, images, report)
        text, kept, kind = chatgpt_content(content)
        if kind:
            report.unsupported_parts[kind] = report.unsupported_parts.get(kind, 0) + 1
        metadata = message.get("metadata") or {}
        finish = (metadata.get("finish_details") or {}).get("type")
        extra: dict[str, Any] = {}
        if kept is not None:
            extra["unsupported"] = {"content_type": kind, "data": kept}
        if pointers:
            # What the export said of the images now attached (a DALL·E prompt, sizes).
            extra["attached"] = pointers
        if role == "tool" and author.get("name"):
            extra["tool"] = author["name"]
        messages.append(
            ImportedMessage(
                uid=f"chatgpt:{message.get('id') or node_id}:{node_id}",
                parent_uid=None,
                role=role,
                content=text,
                created_at=float(message.get("create_time") or created),
                status="interrupted"
                if message.get("status") == "in_progress" or finish == "interrupted"
                else "complete",
                model=metadata.get("model_slug"),
                finish_reason={"max_tokens": "length", "content_filter": "content_filter"}.get(finish or "", None),
                extra=json.dumps(extra, ensure_ascii=False) if extra else None,
            )
        )
        reasoning = carried(node.get("parent")) if role == "assistant" else None
        if reasoning is not None or attached:
            # (Attachments before the text, as a message the user sends has them.)
            messages[-1].parts = (*([reasoning] if reasoning else []), *attached, TextPart(text))
        parent = visible_parent(node.get("parent"))
        messages[-1].parent_uid = uid_by_node[parent] if parent else None
        uid_by_node[node_id] = messages[-1].uid

    # Thoughts that led to no reply (the last node, or followed by a tool's output): a
    # reply of their own, thought and no text, rather than lost.
    for node_id in order:
        thought = thoughts.get(node_id)
        if thought is None or node_id in used or not thought.text:
            continue
        message = mapping[node_id].get("message") or {}
        parent = visible_parent(mapping[node_id].get("parent"))
        messages.append(
            ImportedMessage(
                uid=f"chatgpt:{message.get('id') or node_id}:{node_id}",
                parent_uid=uid_by_node[parent] if parent else None,
                role="assistant",
                content="",
                created_at=float(message.get("create_time") or created),
                parts=(thought, TextPart("")),
            )
        )
        uid_by_node[node_id] = messages[-1].uid  # (the conversation may end on it)

    leaf_node = visible_parent(c.get("current_node"))
    return ImportedConversation(
        uid=_chatgpt_uid(c),
        title=c.get("title") or "",
        created_at=created,
        updated_at=float(c.get("update_time") or created),
        messages=messages,
        current_leaf_uid=uid_by_node.get(leaf_node) if leaf_node else None,
        model=next((m.model for m in reversed(messages) if m.model), None),
    )


# What the window's File menu and the command line's verbs offer, in one place each.


@dataclass(frozen=True)
class ExportFormat:
    key: str  # as `desktop-chat export --format` takes it
    label: str  # as a file dialog lists it
    suffix: str
    write: Callable[[HistoryStore, Iterable[int] | None], str]


EXPORT_FORMATS = {
    f.key: f
    for f in (
        ExportFormat("md", "Markdown", ".md", export_markdown),
        ExportFormat("json", "JSON, complete", ".json", export_json),
        ExportFormat("html", "Web page", ".html", export_html),
    )
}


@dataclass(frozen=True)
class ImportKind:
    key: str  # as `desktop-chat import KIND FILE` takes it
    label: str  # what the file is, for a menu and a file dialog
    patterns: str  # file names a file dialog offers
    read: Callable[[HistoryStore, Path], ImportReport]


IMPORT_KINDS = {
    k.key: k
    for k in (
        ImportKind("chatgpt", "ChatGPT export", "conversations.json *.zip", import_chatgpt),
        ImportKind("json", "Desktop Chat export", "*.json", lambda store, path: import_json(store, _read_text(path))),
    )
}


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ImportFailed(f"Could not read {path.name}: {getattr(exc, 'strerror', None) or exc}") from exc


def import_file(store: HistoryStore, kind: str, path: Path) -> ImportReport:
    """Import a file of one of IMPORT_KINDS; ImportFailed says why it could not be read
    (StoreWriteError: the history could not take it)."""
    if not path.exists():
        raise ImportFailed(f"There is no such file: {path}")
    return IMPORT_KINDS[kind].read(store, path)


def export_file(store: HistoryStore, key: str, path: Path, ids: Iterable[int] | None = None) -> None:
    """Write conversations (all when ids is None) to a file only the user can read; OSError if it cannot be."""
    write_private(path, EXPORT_FORMATS[key].write(store, ids))
