"""ChatView: the transcript, rendered once per message and appended to as a reply streams."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QTimer, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QGuiApplication, QTextBlockFormat, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QTextBrowser, QTextEdit, QWidget

from desktop_chat.core.conversation import COMPLETE, FAILED, INTERRUPTED, STOPPED, Message
from desktop_chat.core.markdown import MarkdownRenderer, Palette, is_safe_link, stable_prefix_length

from .actions import MessageAction

# Coalesce deltas: at most one document update per frame.
FRAME_MS = 16
# Characters of a user message shown in the transcript; the rest stays in the history.
USER_TEXT_SHOWN = 20_000
# Space above each message, in pixels.
MESSAGE_GAP = 18
EARLIER_HREF = "earlier:"


@dataclass
class MessageItem:
    """One message as the transcript shows it."""

    message: Message
    version: int = 1
    versions: int = 1


class ChatView(QTextBrowser):
    """Read-only transcript. Actions on messages are links handled here, never loaded."""

    # (MessageAction, message id): a link under a message was followed
    messageAction = Signal(object, int)
    # "Show earlier messages" was followed
    earlierRequested = Signal()
    # A link the user clicked, to show what happened (e.g. in the status bar).
    linkOpened = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("transcript")
        self.setAccessibleName("Transcript")
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        self.anchorClicked.connect(self._on_anchor)
        self.renderer = MarkdownRenderer()
        self._code_blocks: list[str] = []
        self._tail_code: list[str] = []
        # False while the empty-state text is shown instead of messages.
        self._has_messages = False
        self.first_message_id: int | None = None
        # Streaming state
        self._streaming = False
        self._tail_parts: list[str] = []
        self._tail_pos = 0
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FRAME_MS)
        self._flush_timer.timeout.connect(self.flush)
        self.document().setDocumentMargin(16)
        # A read-only transcript needs no undo history; kept, it grows with every token.
        self.document().setUndoRedoEnabled(False)
        # Follow new text while the reader is at the bottom; stay put once they scroll up.
        # The layout grows lazily, so follow the scroll range as it changes.
        self._follow = True
        self._moving = False
        bar = self.verticalScrollBar()
        bar.rangeChanged.connect(self._on_range_changed)
        bar.valueChanged.connect(self._on_scrolled)

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self._move_to(maximum)

    def _on_scrolled(self, value: int) -> None:
        if not self._moving:
            self._follow = value >= self.verticalScrollBar().maximum() - 8

    def _move_to(self, value: int) -> None:
        self._moving = True
        try:
            self.verticalScrollBar().setValue(value)
        finally:
            self._moving = False

    def stop_following(self) -> None:
        self._follow = False

    # Never fetch anything a document names: model output is data.
    def loadResource(self, type: int, name: QUrl | str) -> object:  # noqa: A002
        return None

    def set_dark(self, dark: bool) -> None:
        self.renderer = MarkdownRenderer(Palette(dark=dark))

    @property
    def palette_colors(self) -> Palette:
        return self.renderer.palette

    # Whole transcript

    def show_messages(self, items: Sequence[MessageItem], hidden_before: int = 0) -> None:
        """Render these messages; `hidden_before` earlier ones are offered behind a link."""
        self._stop_streaming_state()
        self.setExtraSelections([])
        self._code_blocks = []
        self._has_messages = bool(items)
        self.first_message_id = items[0].message.id if items else None
        parts = [self._message_html(item) for item in items]
        if hidden_before:
            link = f"color:{self.palette_colors.link}; text-decoration:none"
            parts.insert(
                0,
                f'<p align="center"><a href="{EARLIER_HREF}" style="{link}">'
                f"Show {hidden_before:,} earlier messages</a></p>",
            )
        if not items:
            parts.append(self._empty_html())
        self.setHtml("".join(parts))
        self.scroll_to_end()

    def _empty_html(self) -> str:
        muted = self.palette_colors.muted
        return (
            f'<p align="center" style="margin-top:80px; color:{muted}; font-size:large">'
            "Start a conversation</p>"
            f'<p align="center" style="color:{muted}">Type below and press Enter. '
            "Shift+Enter adds a line; Esc stops a reply.</p>"
        )

    def append_message(self, item: MessageItem) -> None:
        self._leave_empty_state()
        self._insert_html_at_end(self._message_html(item), top_margin=MESSAGE_GAP)

    def _header_html(self, message: Message) -> str:
        if message.role == "user":
            who = "You"
        elif message.role == "assistant":
            who = html.escape(message.model or "Assistant")
        else:
            who = html.escape(message.role.capitalize())
        return f'<p style="margin-top:{MESSAGE_GAP}px; margin-bottom:4px"><a name="m{message.id}"></a><b>{who}</b></p>'

    def _body_html(self, message: Message) -> str:
        if message.role == "user":
            # What the user typed is shown as typed; a huge paste is shown in part
            # (Copy still gives all of it), so the transcript stays quick.
            content = message.content
            more = ""
            if len(content) > USER_TEXT_SHOWN:
                hidden = len(content) - USER_TEXT_SHOWN
                content = content[:USER_TEXT_SHOWN]
                more = (
                    f'<br/><i style="color:{self.palette_colors.muted}">… {hidden:,} more characters '
                    "not shown — Copy gives the whole message</i>"
                )
            text = html.escape(content).replace("\n", "<br/>")
            return f'<p style="margin-top:0px">{text}{more}</p>'
        rendered = self.renderer.render(message.content, code_offset=len(self._code_blocks))
        self._code_blocks.extend(rendered.code_blocks)
        return rendered.html

    def _link(self, action: MessageAction, message_id: int, bold: bool = False) -> str:
        style = f"color:{self.palette_colors.link}; text-decoration:none"
        label = f"<b>{action.label}</b>" if bold else action.label
        return f'<a href="{action.href(message_id)}" style="{style}">{label}</a>'

    def _footer_html(self, item: MessageItem) -> str:
        message = item.message
        actions = [self._link(MessageAction.COPY, message.id)]
        if message.role == "user":
            actions.append(self._link(MessageAction.EDIT, message.id))
        else:
            actions.append(self._link(MessageAction.REGENERATE, message.id))
        if item.versions > 1:
            actions.append(
                f"{self._link(MessageAction.PREVIOUS, message.id)} {item.version}/{item.versions} "
                f"{self._link(MessageAction.NEXT, message.id)}"
            )
        notes = []
        if message.role == "assistant":
            notes.extend(self._status_notes(message))
        line = " &#183; ".join(actions + notes)
        problem = ""
        if message.status in (FAILED, INTERRUPTED) or (message.status == STOPPED and not message.content):
            text = html.escape(message.error or _status_text(message.status))
            carry_on = f" &#183; {self._link(MessageAction.CONTINUE, message.id, bold=True)}" if message.content else ""
            problem = (
                f'<p style="color:#d93025; margin-top:4px">&#9888; {text} '
                f"{self._link(MessageAction.RETRY, message.id, bold=True)}{carry_on}</p>"
            )
        return f'{problem}<p style="color:{self.palette_colors.muted}; font-size:small; margin-top:4px">{line}</p>'

    def _status_notes(self, message: Message) -> list[str]:
        notes = []
        if message.status == STOPPED:
            notes.append("<i>stopped</i>")
            if message.content:
                notes.append(self._link(MessageAction.CONTINUE, message.id))
        elif message.status == INTERRUPTED:
            notes.append("<i>interrupted</i>")
        if message.finish_reason == "length":
            notes.append("<i>cut off at the token limit</i>")
            if message.status == COMPLETE:
                notes.append(self._link(MessageAction.CONTINUE, message.id))
        elif message.finish_reason == "content_filter":
            notes.append("<i>stopped by the provider's content filter</i>")
        if message.completion_tokens is not None or message.prompt_tokens is not None:
            notes.append(
                f"{message.prompt_tokens if message.prompt_tokens is not None else '?'} in &#183; "
                f"{message.completion_tokens if message.completion_tokens is not None else '?'} out tokens"
            )
        return notes

    def _message_html(self, item: MessageItem) -> str:
        message = item.message
        body = self._body_html(message) if message.content else self._no_text_html(message)
        return self._header_html(message) + body + self._footer_html(item)

    def _no_text_html(self, message: Message) -> str:
        # A finished reply with no text (a tool call, say) says so; a failed one shows its error.
        if message.role == "assistant" and message.status == COMPLETE:
            return f'<p style="color:{self.palette_colors.muted}; margin-top:0px"><i>(no text)</i></p>'
        return ""

    def _leave_empty_state(self) -> None:
        if not self._has_messages:
            self.clear()
            self._has_messages = True

    # Streaming

    def begin_reply(self, message: Message, prefix: str = "") -> None:
        """Show the reply's header (and any text it already has); deltas follow it."""
        self._leave_empty_state()
        self._insert_html_at_end(self._header_html(message), top_margin=MESSAGE_GAP)
        cursor = self._end_cursor()
        self._start_block(cursor)
        self._tail_pos = cursor.position()
        self._tail_parts = []
        self._tail_code = []
        self._streaming = True
        self._thinking = False
        self._show_tail("*…*")
        if prefix:
            self.append_delta(prefix)
            self.flush()

    def show_thinking(self) -> None:
        """A reasoning model is thinking: say so until its answer starts."""
        if self._streaming and not self._tail_parts and not self._thinking:
            self._thinking = True
            self._show_tail("*Thinking…*")

    def append_delta(self, text: str) -> None:
        if not self._streaming:
            return
        self._tail_parts.append(text)
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def flush(self) -> None:
        """Render what arrived since the last frame: finished blocks once, the open block again."""
        if not self._streaming:
            return
        self._flush_timer.stop()
        tail = "".join(self._tail_parts)
        cut = stable_prefix_length(tail)
        # One edit for the whole frame: Qt lays out (and, when a table comes or goes,
        # re-scans the document's frames) once per edit, not once per change.
        edit = QTextCursor(self.document())
        edit.beginEditBlock()
        if cut:
            done, tail = tail[:cut], tail[cut:]
            self._tail_parts = [tail]
            rendered = self.renderer.render(done, code_offset=len(self._code_blocks))
            self._code_blocks.extend(rendered.code_blocks)
            cursor = self._replace_tail(rendered.html)
            self._start_block(cursor)
            self._tail_pos = cursor.position()
        self._show_tail(tail)
        edit.endEditBlock()

    def _show_tail(self, tail: str) -> None:
        rendered = self.renderer.render(tail, code_offset=len(self._code_blocks))
        self._tail_code = rendered.code_blocks
        self._replace_tail(rendered.html)

    def _replace_tail(self, html_text: str) -> QTextCursor:
        cursor = QTextCursor(self.document())
        cursor.setPosition(self._tail_pos)
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.beginEditBlock()
        cursor.removeSelectedText()
        # The block left at the cursor keeps its old format (a list, a code
        # background): start it clean so the new HTML does not inherit it.
        cursor.setBlockFormat(QTextBlockFormat())
        cursor.setBlockCharFormat(QTextCharFormat())
        cursor.setCharFormat(QTextCharFormat())
        if html_text:
            cursor.insertHtml(html_text)
        cursor.endEditBlock()
        return cursor

    def end_reply(self, item: MessageItem) -> None:
        """The reply is final: render its last block and its footer (status, usage, actions)."""
        if self._streaming:
            self._flush_timer.stop()
            tail = "".join(self._tail_parts)
            rendered = self.renderer.render(tail, code_offset=len(self._code_blocks))
            self._code_blocks.extend(rendered.code_blocks)
            self._tail_code = []
            self._replace_tail(rendered.html if item.message.content else self._no_text_html(item.message))
        self._streaming = False
        self._insert_html_at_end(self._footer_html(item), top_margin=4)

    def _stop_streaming_state(self) -> None:
        self._streaming = False
        self._flush_timer.stop()
        self._tail_parts = []
        self._tail_code = []

    # Helpers

    def _end_cursor(self) -> QTextCursor:
        cursor = QTextCursor(self.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        return cursor

    @staticmethod
    def _start_block(cursor: QTextCursor, top_margin: float = 0.0) -> None:
        """Put the cursor in a fresh, unformatted block (reusing an empty one).

        insertHtml merges its first paragraph into the cursor's block and keeps that
        block's format, so spacing is set here, on the block, not in the HTML.
        """
        block_format = QTextBlockFormat()
        block_format.setTopMargin(top_margin)
        if cursor.block().length() > 1:
            cursor.insertBlock(block_format, QTextCharFormat())
        else:
            cursor.setBlockFormat(block_format)
            cursor.setCharFormat(QTextCharFormat())

    def _insert_html_at_end(self, html_text: str, top_margin: float = 0.0) -> None:
        cursor = self._end_cursor()
        self._start_block(cursor, top_margin)
        cursor.insertHtml(html_text)

    def scroll_to_end(self) -> None:
        self._follow = True
        self._move_to(self.verticalScrollBar().maximum())

    def reveal(self, message_id: int, text: str) -> int:
        """Scroll to a message and mark the searched words in it; returns how many were marked."""
        anchor = f"m{message_id}"
        self.scrollToAnchor(anchor)
        self._follow = False
        start = self._anchor_position(anchor)
        if start < 0:
            return 0
        end = self._next_anchor_position(start)
        words = [w for w in "".join(ch if ch.isalnum() else " " for ch in text).split() if w]
        marks = []
        highlight = QTextCharFormat()
        highlight.setBackground(QColor("#ffe066"))
        highlight.setForeground(QColor("#1f2328"))
        for word in words:
            cursor = QTextCursor(self.document())
            cursor.setPosition(start)
            while True:
                cursor = self.document().find(word, cursor)
                if cursor.isNull() or cursor.selectionStart() >= end:
                    break
                selection = QTextEdit.ExtraSelection()
                selection.cursor = cursor
                selection.format = highlight
                marks.append(selection)
        self.setExtraSelections(marks)
        if marks:
            self.setTextCursor(QTextCursor(marks[0].cursor))
            self.ensureCursorVisible()
        return len(marks)

    def _anchor_position(self, name: str) -> int:
        block = self.document().begin()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                fragment = it.fragment()
                if name in fragment.charFormat().anchorNames():
                    return fragment.position()
                it += 1
            block = block.next()
        return -1

    def _next_anchor_position(self, after: int) -> int:
        block = self.document().findBlock(after).next()
        while block.isValid():
            it = block.begin()
            while not it.atEnd():
                fragment = it.fragment()
                if any(n.startswith("m") for n in fragment.charFormat().anchorNames()):
                    return fragment.position()
                it += 1
            block = block.next()
        return self.document().characterCount()

    def code_block(self, index: int) -> str | None:
        blocks = self._code_blocks + self._tail_code
        return blocks[index] if 0 <= index < len(blocks) else None

    def _on_anchor(self, url: QUrl) -> None:
        target = url.toString()
        if target.startswith("copy:"):
            code = self.code_block(int(target.split(":", 1)[1]))
            if code is not None:
                QGuiApplication.clipboard().setText(code)
                self.linkOpened.emit("Code copied")
        elif target == EARLIER_HREF:
            self.earlierRequested.emit()
        elif target.startswith("action:"):
            _, action, ident = target.split(":", 2)
            self.messageAction.emit(MessageAction(action), int(ident))
        elif is_safe_link(target):
            # Only on click, only web and mail links, always in the system's handler.
            QDesktopServices.openUrl(url)
            self.linkOpened.emit(target)


def _status_text(status: str) -> str:
    return {
        STOPPED: "Stopped before any text arrived.",
        INTERRUPTED: "The app closed while this reply was arriving.",
        FAILED: "The reply failed.",
    }.get(status, status)
