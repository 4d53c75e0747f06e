"""TranscriptView: the messages of a conversation, one MessageView each, in a scrolling
column where only what is in view (and a screen's worth around it) is laid out and kept.

How it works (docs/DESIGN.md says it too):
- Every message of the branch is an item with a height: estimated from its length until
  its view is laid out at the column's width, then measured. `_tops` are the running sums.
- Scroll anchoring: what the reader looks at is kept as (the first message in view, how far
  into it the view's top is). After any change of heights (estimates replaced, a message
  that grows, a new width) the scroll position is worked out from the anchor again, so the
  text in view does not move. At the bottom the view follows new text instead, until the
  reader scrolls up; "Jump to latest" then takes them back.
- Views are created when a message comes into view, kept while near it, and reused for
  other messages (rebound) when far away; the view of a reply that streams is kept.
- Find (Ctrl+F) and search hits (Ctrl+K) scroll to the message, lay it out, and mark the
  words in its documents. There is no paging: scrolling up shows earlier messages.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import accumulate
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QPoint, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAccessible,
    QAccessibleAnnouncementEvent,
    QColor,
    QDesktopServices,
    QFocusEvent,
    QFont,
    QFontMetrics,
    QResizeEvent,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QApplication,
    QFrame,
    QLabel,
    QTextBrowser,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktop_chat.core.attachments import AttachmentStore
from desktop_chat.core.conversation import COMPLETE, TOOL_ASKED, AttachmentPart, Message, Part, ToolCallPart
from desktop_chat.core.markdown import Palette, is_safe_link
from desktop_chat.core.model_names import display_name
from desktop_chat.ui.actions import MessageAction
from desktop_chat.ui.icons import icon

from .files_view import Thumbnails
from .message_view import Look, MessageItem, MessageView, author
from .segments import CodeSegmentView

if TYPE_CHECKING:
    from desktop_chat.ui.attachment_viewer import AttachmentViewer

# Coalesce deltas: at most one update of the streaming message per frame.
FRAME_MS = 16
# The reading column: at most this wide, with at least this much on each side.
COLUMN_WIDTH = 760
SIDE_MARGIN = 24
TOP_MARGIN = 20
BOTTOM_MARGIN = 28
MESSAGE_GAP = 10
# Laid out beyond the viewport, above and below (pixels); views kept beyond that.
OVERSCAN = 400
KEEP_VIEWS = 16
SPARE_VIEWS = 12
SCROLL_STEP = 20
# The longest part of a reply a screen reader is given to say when it finishes.
ANNOUNCED_CHARACTERS = 600


class TranscriptView(QAbstractScrollArea):
    """Read-only transcript. Actions on messages are buttons; links open only on click."""

    # (MessageAction, message id): a button under a message was pressed
    messageAction = Signal(object, int)
    # Something to show in the status line (a link opened, code copied).
    linkOpened = Signal(str)
    # A tool call's card was answered: (call id, Answer).
    toolAnswered = Signal(str, object)

    def __init__(self, parent: QWidget | None = None, names: Callable[[str], str] = display_name) -> None:
        super().__init__(parent)
        self.setObjectName("transcript")
        self.setAccessibleName("Transcript")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.verticalScrollBar().setSingleStep(SCROLL_STEP)
        self.look = Look(Palette(), QFont(self.font()), names)
        self.items: list[MessageItem] = []
        self._index: dict[int, int] = {}  # message id -> position in items
        self._heights: list[int] = []
        self._measured: list[bool] = []
        self._tops: list[int] = [TOP_MARGIN]
        self._tops_valid = 0  # _tops[: _tops_valid + 1] are right
        self._width = -1
        self._views: dict[int, MessageView] = {}  # message id -> its view, for those kept
        self._spares: list[MessageView] = []
        self._follow = True
        self._anchor: tuple[int, int] | None = None  # (message id, pixels into it)
        self._laying_out = False
        self._shown_range = (0, 0)
        self._shown_value = 0  # the scroll position the views were last placed for
        self._active: MessageView | None = None
        # The reply that streams: its id, and text not yet shown.
        self._streaming: int | None = None
        self._pending: list[str] = []
        self._pending_reasoning: list[str] = []
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(FRAME_MS)
        self._flush_timer.timeout.connect(self.flush)
        # Marked words: (message id, words, the current find hit's number or -1).
        self._marks: tuple[int, list[str], int] | None = None
        self._find: tuple[str, int] = ("", -1)  # (text, the hit shown)

        self.empty = _EmptyState(self.viewport())
        # In the viewport (a sibling over it would make every scroll repaint all of it).
        self.jump_button = QToolButton(self.viewport())
        self.jump_button.setObjectName("jumpToLatest")
        self.jump_button.setAccessibleName("Jump to the latest message")
        self.jump_button.setToolTip("Jump to the latest message")
        self.jump_button.setFixedSize(36, 36)
        self.jump_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.jump_button.clicked.connect(self.scroll_to_end)
        self.jump_button.hide()
        self._apply_colours()
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._focus_changed)

    # Look

    @property
    def palette_colors(self) -> Palette:
        return self.look.palette

    def set_dark(self, dark: bool) -> None:
        if dark != self.look.palette.dark:
            self._set_look(replace(self.look, palette=Palette(dark=dark)))

    def set_text_font(self, font: QFont) -> None:
        if font != self.look.font:
            self._set_look(replace(self.look, font=QFont(font)))

    def set_fold_reasoning(self, fold: bool) -> None:
        """Fold a reply's reasoning away once its answer starts (and when it is opened again)."""
        if fold != self.look.fold_reasoning:
            self._set_look(replace(self.look, fold_reasoning=fold))

    def set_attachments(self, store: AttachmentStore) -> None:
        """Show attached images from this store's files (thumbnails, and full size on click)."""
        self._set_look(replace(self.look, thumbnails=Thumbnails(store, self)))

    def open_attachment(self, part: AttachmentPart) -> AttachmentViewer:
        """Open an attached file: an image full size, a document's text."""
        from desktop_chat.ui.attachment_viewer import AttachmentViewer

        thumbnails = self.look.thumbnails
        viewer = AttachmentViewer(part, thumbnails.data(part.digest) if thumbnails is not None else None, self)
        viewer.setWindowFlag(Qt.WindowType.Window)
        viewer.show()
        return viewer

    def _set_look(self, look: Look) -> None:
        self.look = look
        for view in self._views.values():
            view.apply_look(look)
        for spare in self._spares:
            spare.deleteLater()
        self._spares = []
        self._apply_colours()
        self._measured = [False] * len(self.items)
        self._width = -1  # every height again
        self._layout()

    def _apply_colours(self) -> None:
        muted = self.look.palette.muted
        self.jump_button.setIcon(icon("arrow-down", muted))
        self.empty.apply(self.look)

    # The messages

    def show_messages(self, items: Sequence[MessageItem]) -> None:
        """Show these messages. The reader stays where they were when the message at the top
        of the view is among them (a version switched below it, say); else at the end."""
        self._stop_streaming_state()
        kept_anchor = self._anchor if not self._follow else None
        ids = {item.message.id for item in items}
        for message_id in [m for m in self._views if m not in ids]:
            self._release(self._views.pop(message_id))
        self.items = list(items)
        self._index = {item.message.id: i for i, item in enumerate(self.items)}
        self._heights = [0] * len(self.items)
        self._measured = [False] * len(self.items)
        self._tops_valid = 0
        self._width = -1
        self._marks = None
        self._find = ("", -1)
        if kept_anchor is not None and kept_anchor[0] in self._index:
            self._anchor = kept_anchor
        else:
            self._follow, self._anchor = True, None
        self._layout()

    def append_message(self, item: MessageItem) -> None:
        self._append(item)
        self._layout()

    def _append(self, item: MessageItem) -> None:
        # The reply before it is no longer the last: its actions hide until hovered.
        if self.items:
            before = self._views.get(self.items[-1].message.id)
            if before is not None and before.last_reply:
                before.bind(self.items[-1], False)
        self._index[item.message.id] = len(self.items)
        self.items.append(item)
        self._heights.append(self._estimate(item, self._width))
        self._measured.append(False)

    def _is_last_reply(self, index: int) -> bool:
        return index == len(self.items) - 1 and self.items[index].message.role == "assistant"

    def message_view(self, message_id: int) -> MessageView | None:
        """The view of a message (laid out, though perhaps out of sight), or None if not shown."""
        index = self._index.get(message_id)
        if index is None:
            return None
        view = self._realize(index)
        if self._measure(index, view) and not self._laying_out:
            self._layout()  # (its height is known now: what is in view stays put)
        return view

    def message_ids(self) -> list[int]:
        return [item.message.id for item in self.items]

    def views_in_sight(self) -> list[MessageView]:
        first, last = self._shown_range
        views = [self._views.get(self.items[i].message.id) for i in range(first, last)]
        area = self.viewport().rect()
        return [v for v in views if v is not None and v.isVisible() and v.geometry().intersects(area)]

    # Streaming

    def begin_reply(self, message: Message, prefix: str = "") -> None:
        """Show the reply (empty, or with the text it already has); deltas follow it."""
        self._stop_streaming_state()
        if message.id in self._index:
            index = self._index[message.id]
            self.items[index] = MessageItem(message)
        else:
            self._append(MessageItem(message))
            index = len(self.items) - 1
        self._streaming = message.id
        view = self._realize(index)
        view.begin_stream(prefix)
        self._measured[index] = False
        self._layout()

    def append_delta(self, text: str) -> None:
        if self._streaming is None:
            return
        self._pending.append(text)
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def append_reasoning(self, text: str) -> None:
        """More of the model's thought ("" for a thought that comes without its text)."""
        if self._streaming is None:
            return
        if self._pending:  # (the answer's text came first: keep the order)
            self.flush()
        self._pending_reasoning.append(text)
        if not self._flush_timer.isActive():
            self._flush_timer.start()

    def answer_was_reasoning(self, text: str) -> None:
        """The answer shown so far was the model thinking (a bare </think>: core/reasoning.py)."""
        self.flush()
        view = self._streaming_view()
        if view is not None:
            view.answer_was_reasoning(text)
            self._changed(view)

    def reasoning_was_answer(self, text: str) -> None:
        self.flush()
        view = self._streaming_view()
        if view is not None:
            view.reasoning_was_answer(text)
            self._changed(view)

    def tool_calls_changed(self, parts: Sequence[Part]) -> None:
        """The streaming reply's rounds so far: each round's text, then its calls' cards."""
        self.flush()
        view = self._streaming_view()
        if view is not None:
            asked_before = {c.call_id for c in view.tool_calls_shown() if c.status == TOOL_ASKED}
            view.tool_calls_changed(tuple(parts))
            calls = [p for p in parts if isinstance(p, ToolCallPart)]
            self._changed(view)
            asking = [c for c in calls if c.status == TOOL_ASKED and c.call_id not in asked_before]
            if asking and QAccessible.isActive():
                names = ", ".join(f"{c.tool or c.name} of {c.server}" for c in asking)
                said = f"The model asks to run {names}. Allow or deny it on its card (Tab to its buttons)."
                QAccessible.updateAccessibility(QAccessibleAnnouncementEvent(self, said))

    def flush(self) -> None:
        """Show what arrived since the last frame."""
        self._flush_timer.stop()
        view = self._streaming_view()
        if view is None or not (self._pending or self._pending_reasoning):
            return
        if self._pending_reasoning:
            thought = "".join(self._pending_reasoning)
            self._pending_reasoning = []
            view.feed_reasoning(thought)
        if self._pending:
            text = "".join(self._pending)
            self._pending = []
            view.feed(text)
        self._changed(view)

    def end_reply(self, item: MessageItem) -> None:
        """The reply is final: its last block, and what became of it (status, actions)."""
        view = self._streaming_view()
        if view is not None:
            self.flush()
        self._streaming = None
        index = self._index.get(item.message.id)
        if index is None:
            return
        self.items[index] = item
        view = self._views.get(item.message.id)
        if view is not None:
            view.finish(item, self._is_last_reply(index))
        self._measured[index] = False
        self._layout()
        self._announce(item.message)

    def _streaming_view(self) -> MessageView | None:
        return self._views.get(self._streaming) if self._streaming is not None else None

    def _stop_streaming_state(self) -> None:
        self._streaming = None
        self._flush_timer.stop()
        self._pending = []
        self._pending_reasoning = []

    def _changed(self, view: MessageView) -> None:
        index = self._index.get(view.message.id)
        if index is not None:
            self._measured[index] = False
            self._layout()

    def _announce(self, message: Message) -> None:
        """Tell a screen reader the reply is done, and what it says."""
        if not QAccessible.isActive():
            return
        who = author(message, self.look.names)
        if message.status == COMPLETE:
            # What is shown (no markdown marks, no table pipes), not the markdown.
            view = self._views.get(message.id)
            shown = view.spoken_text() if view is not None else message.content
            said = f"{who[0].upper()}{who[1:]} finished. {shown[:ANNOUNCED_CHARACTERS]}"
        else:
            said = f"{who[0].upper()}{who[1:]}: {message.error or message.status}"
        QAccessible.updateAccessibility(QAccessibleAnnouncementEvent(self, said))

    # Scrolling

    def scroll_to_end(self) -> None:
        self._follow = True
        self._layout()

    def stop_following(self) -> None:
        if self._follow:
            self._follow = False
            self._set_anchor(self.verticalScrollBar().value())

    @property
    def following(self) -> bool:
        return self._follow

    def message_top(self, message_id: int) -> int | None:
        """Where the message's top is, in the viewport (None when it is not shown)."""
        index = self._index.get(message_id)
        if index is None:
            return None
        self._refresh_tops()
        return self._tops[index] - self.verticalScrollBar().value()

    def scroll_to_message(self, message_id: int, at: int = TOP_MARGIN) -> None:
        """Put the message's top `at` pixels below the top of the view, and stay there."""
        if message_id not in self._index:
            return
        self._follow = False
        self._anchor = (message_id, -at)
        self._layout()

    def ensure_visible(self, message_id: int, y: int = 0, height: int = 0) -> None:
        """Scroll as little as needed to show `height` pixels at `y` in the message (all of it
        when 0), or its top when it is taller than the view."""
        index = self._index.get(message_id)
        if index is None:
            return
        view = self._realize(index)
        self._measure(index, view)
        self._refresh_tops()
        height = height or self._heights[index]
        top = self._tops[index] + y
        value = self.verticalScrollBar().value()
        viewport = self.viewport().height()
        if top < value or height > viewport:
            self.scroll_to_message(message_id, at=max(0, -y) + 8)
        elif top + height > value + viewport:
            self._follow = False
            self._set_anchor(top + height - viewport + 8)
            self._layout()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        if self._laying_out:
            return
        bar = self.verticalScrollBar()
        self._follow = bar.value() >= bar.maximum() - 4
        self._set_anchor(bar.value())
        self._layout()

    def _set_anchor(self, value: int) -> None:
        if not self.items:
            self._anchor = None
            return
        self._refresh_tops()
        # The first message that starts in view (the one being read); else the one that
        # fills the view.
        index = bisect.bisect_left(self._tops, value)
        if index >= len(self.items) or self._tops[index] >= value + self.viewport().height():
            index = bisect.bisect_right(self._tops, value) - 1
        index = max(0, min(len(self.items) - 1, index))
        self._anchor = (self.items[index].message.id, value - self._tops[index])

    # Layout

    def _column(self) -> tuple[int, int]:
        width = self.viewport().width()
        column = max(120, min(COLUMN_WIDTH, width - 2 * SIDE_MARGIN))
        return column, max(0, (width - column) // 2)

    def _estimate(self, item: MessageItem, width: int) -> int:
        metrics = QFontMetrics(self.look.font)
        per_line = max(20, max(width, 200) // max(1, metrics.averageCharWidth()))
        content = item.message.content
        lines = content.count("\n") + len(content) // per_line + 1
        extra = 60 if item.message.role == "assistant" else 52
        return min(lines, 5000) * metrics.lineSpacing() + extra

    def _refresh_tops(self) -> None:
        """`_tops[i]`: where message i starts; `_tops[-1]`: where one after the last would."""
        count = len(self.items)
        start = min(self._tops_valid, count, len(self._tops) - 1)
        if start == count and len(self._tops) == count + 1:
            return
        base = self._tops[start]
        del self._tops[start:]
        self._tops.extend(accumulate((h + MESSAGE_GAP for h in self._heights[start:count]), initial=base))
        self._tops_valid = count

    def _set_height(self, index: int, height: int) -> bool:
        if self._heights[index] == height:
            return False
        self._heights[index] = height
        self._tops_valid = min(self._tops_valid, index)
        return True

    def _measure(self, index: int, view: MessageView) -> bool:
        column, _ = self._column()
        self._measured[index] = True
        return self._set_height(index, view.height_for(column))

    def _content_height(self) -> int:
        self._refresh_tops()
        if not self.items:
            return 0
        return self._tops[-1] - MESSAGE_GAP + BOTTOM_MARGIN

    def _layout(self) -> None:
        if self._laying_out:
            return
        self._laying_out = True
        try:
            self._lay_out()
        finally:
            self._laying_out = False

    def _lay_out(self) -> None:
        column, left = self._column()
        if column != self._width:
            self._width = column
            self._heights = [
                self._estimate(item, column) if not self._measured[i] else self._heights[i]
                for i, item in enumerate(self.items)
            ]
            self._measured = [False] * len(self.items)
            self._tops_valid = 0
        bar = self.verticalScrollBar()
        viewport = self.viewport().height()
        first = last = 0
        for _attempt in range(6):
            value = self._value(viewport)
            first = max(0, bisect.bisect_right(self._tops, value - OVERSCAN) - 1)
            last = min(len(self.items), bisect.bisect_left(self._tops, value + viewport + OVERSCAN))
            changed = False
            for index in range(first, last):
                if not self._measured[index]:
                    changed |= self._measure(index, self._realize(index))
            streaming = self._streaming_view()
            if streaming is not None:
                index = self._index[streaming.message.id]
                if not self._measured[index]:
                    changed |= self._measure(index, streaming)
            if not changed:
                break
        value = self._value(viewport)
        bar.setPageStep(viewport)
        bar.setRange(0, max(0, self._content_height() - viewport))
        bar.setValue(value)
        moved = self._shown_value - value
        if moved and abs(moved) < viewport:
            # What stays in view is moved, not painted again: only the strip that comes
            # into view is (a scroll, or the text moving up as a reply grows at the end).
            self.viewport().scroll(0, moved)
        self._shown_value = value
        self._place(first, last, value, left, column)
        if not self._follow:
            self._set_anchor(value)
        self.empty.setVisible(not self.items)
        if not self.items:
            self.empty.setGeometry(self.viewport().rect())
        at_end = value >= bar.maximum() - 4
        self.jump_button.setVisible(bool(self.items) and not at_end)
        if self.jump_button.isVisible():
            self.jump_button.move(
                (self.viewport().width() - self.jump_button.width()) // 2, viewport - self.jump_button.height() - 12
            )
            self.jump_button.raise_()

    def _value(self, viewport: int) -> int:
        """The scroll position: the end when following, else where the anchor says."""
        maximum = max(0, self._content_height() - viewport)
        if self._follow:
            return maximum
        if self._anchor is not None and self._anchor[0] in self._index:
            index = self._index[self._anchor[0]]
            return max(0, min(maximum, self._tops[index] + self._anchor[1]))
        return max(0, min(maximum, self.verticalScrollBar().value()))

    def _place(self, first: int, last: int, value: int, left: int, column: int) -> None:
        shown: set[int] = set()
        for index in range(first, last):
            message_id = self.items[index].message.id
            view = self._views.get(message_id)
            if view is None:
                continue
            view.setGeometry(left, self._tops[index] - value, column, self._heights[index])
            if not view.isVisible():
                view.show()
            shown.add(message_id)
        self._shown_range = (first, last)
        focus = QApplication.focusWidget()
        for message_id, view in list(self._views.items()):
            if message_id in shown:
                continue
            if view.isVisible() and not (focus is not None and view.isAncestorOf(focus)):
                view.hide()
        self._trim(first, last)

    def _trim(self, first: int, last: int) -> None:
        """Give up views far from sight (beyond KEEP_VIEWS), keeping the streaming one."""
        if len(self._views) <= (last - first) + KEEP_VIEWS:
            return
        middle = (first + last) // 2
        kept = sorted(self._views, key=lambda m: abs(self._index.get(m, 0) - middle))
        for message_id in kept[(last - first) + KEEP_VIEWS :]:
            view = self._views[message_id]
            if message_id == self._streaming or view.hasFocus():
                continue
            self._release(self._views.pop(message_id))

    def _realize(self, index: int) -> MessageView:
        item = self.items[index]
        view = self._views.get(item.message.id)
        if view is None:
            view = self._spares.pop() if self._spares else self._new_view()
            if view.look is not self.look:
                view.apply_look(self.look)
            view.bind(item, self._is_last_reply(index))
            self._views[item.message.id] = view
            self._measured[index] = False
            if self._marks is not None and self._marks[0] == item.message.id:
                self._mark(view, self._marks[1], self._marks[2])
        elif view.item is not item and view.item is not None and view.streaming is False:
            view.bind(item, self._is_last_reply(index))
        return view

    def _new_view(self) -> MessageView:
        view = MessageView(self.look, self.viewport())
        view.actionRequested.connect(self.messageAction)
        view.linkActivated.connect(self._on_link)
        view.moveRequested.connect(self._move_focus)
        view.focusEntered.connect(self._message_focused)
        view.resized.connect(self._changed)
        view.fileOpened.connect(self.open_attachment)
        view.toolAnswered.connect(self.toolAnswered)
        view.hide()
        return view

    def _release(self, view: MessageView) -> None:
        view.hide()
        view.set_active(False)
        if len(self._spares) < SPARE_VIEWS:
            self._spares.append(view)
        else:
            view.deleteLater()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._layout()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self._layout()

    # Links

    def _on_link(self, href: str) -> None:
        if href == "copied:":
            self.linkOpened.emit("Code copied")
        elif href.startswith("copy:"):
            self.linkOpened.emit("Code copied")
        elif is_safe_link(href):
            # Only on click, only web and mail links, always in the system's handler.
            QDesktopServices.openUrl(QUrl(href))
            self.linkOpened.emit(href)

    # Keyboard

    def focusInEvent(self, event: QFocusEvent) -> None:
        """Tab into the transcript lands on a message: the one being read, or the last."""
        super().focusInEvent(event)
        if not self.items:
            return
        views = self.views_in_sight()
        if not views:
            return
        backwards = event.reason() == Qt.FocusReason.BacktabFocusReason
        target = views[-1] if self._follow or backwards else views[0]
        target.setFocus(event.reason())

    def _move_focus(self, view: MessageView, key: int) -> None:
        index = self._index.get(view.message.id)
        if index is None:
            return
        page = max(1, len(self.views_in_sight()) - 1)
        target = {
            Qt.Key.Key_Up: index - 1,
            Qt.Key.Key_Down: index + 1,
            Qt.Key.Key_Home: 0,
            Qt.Key.Key_End: len(self.items) - 1,
            Qt.Key.Key_PageUp: index - page,
            Qt.Key.Key_PageDown: index + page,
        }[Qt.Key(key)]
        target = max(0, min(len(self.items) - 1, target))
        self.focus_message(self.items[target].message.id)

    def focus_message(self, message_id: int) -> None:
        """Give a message the keyboard focus, in view."""
        if message_id not in self._index:
            return
        if message_id == self.items[-1].message.id:
            self._follow = True
            self._layout()
        else:
            self.ensure_visible(message_id)
        view = self._views.get(message_id)
        if view is not None:
            view.setFocus(Qt.FocusReason.OtherFocusReason)

    def focusNextPrevChild(self, next: bool) -> bool:  # noqa: A002
        """Tab within the transcript: from a message into its buttons, then out of the
        transcript (not through every message and link)."""
        focus = QApplication.focusWidget()
        view = self._message_of(focus)
        if view is None:
            return super().focusNextPrevChild(next)
        chain: list[QWidget] = [view, *view.action_buttons()]
        position = chain.index(focus) if focus in chain else 0
        step = 1 if next else -1
        if 0 <= position + step < len(chain):
            reason = Qt.FocusReason.TabFocusReason if next else Qt.FocusReason.BacktabFocusReason
            chain[position + step].setFocus(reason)
            return True
        outside = self._outside(next)
        if outside is None:
            return super().focusNextPrevChild(next)
        outside.setFocus(Qt.FocusReason.TabFocusReason if next else Qt.FocusReason.BacktabFocusReason)
        return True

    def _outside(self, next: bool) -> QWidget | None:  # noqa: A002
        widget: QWidget = self
        for _ in range(500):
            following = widget.nextInFocusChain() if next else widget.previousInFocusChain()
            if following is None or following is self:
                return None
            widget = following
            if self.isAncestorOf(widget):
                continue
            if (
                widget.focusPolicy() & Qt.FocusPolicy.TabFocus
                and widget.isVisible()
                and widget.isEnabled()
                and widget.window() is self.window()
            ):
                return widget
        return None

    def _message_of(self, widget: QObject | None) -> MessageView | None:
        while widget is not None:
            if isinstance(widget, MessageView):
                return widget
            if widget is self:
                return None
            widget = widget.parent()
        return None

    def _focus_changed(self, old: QWidget | None, new: QWidget | None) -> None:
        view = self._message_of(new)
        if view is self._active:
            return
        if self._active is not None:
            self._active.set_active(False)
        self._active = view
        if view is not None:
            view.set_active(True)

    def _message_focused(self, view: MessageView) -> None:
        """A message took the focus (a click, Tab): bring it into view if it is out of sight."""
        if view.item is None or self._laying_out or view.message.id not in self._index:
            return
        if not view.isVisible() or not view.geometry().intersects(self.viewport().rect()):
            self.ensure_visible(view.message.id)

    # Marks: search hits and find

    def reveal(self, message_id: int, text: str) -> int:
        """Scroll to a message and mark the searched words in it; returns how many were marked."""
        words = [w for w in "".join(ch if ch.isalnum() else " " for ch in text).split() if w]
        self._marks = (message_id, words, -1)
        view = self.message_view(message_id)
        if view is None:
            return 0
        found = self._mark(view, words, -1)
        thought = view.reasoning
        if not found and thought is not None and thought.isVisibleTo(view) and not thought.expanded:
            thought.unfold()  # the words are in the reasoning (a search hit there): show it
            found = self._mark(view, words, -1)
        self._show_mark(view, 0)
        return found

    def find_text(self, text: str, step: int = 0) -> tuple[int, int]:
        """Find `text` in the conversation (ignoring case): step 0 shows the first hit at or
        after the message in view, +1 the next, -1 the one before. Returns (hit, hits)."""
        needle = text.casefold()
        if not needle:
            self.clear_marks()
            return 0, 0
        counts = [item.message.content.casefold().count(needle) for item in self.items]
        total = sum(counts)
        if not total:
            self.clear_marks()
            self._find = (text, -1)
            return 0, 0
        starts = list(accumulate(counts, initial=0))
        previous_text, previous = self._find
        if step and previous_text.casefold() == needle and previous >= 0:
            hit = (previous + step) % total
        else:  # the first hit in or after the message at the top of the view
            self._refresh_tops()
            in_view = max(0, bisect.bisect_right(self._tops, self.verticalScrollBar().value()) - 1)
            in_view = min(in_view, len(self.items) - 1)
            hit = starts[in_view] if starts[in_view] < total else 0
        self._find = (text, hit)
        index = bisect.bisect_right(starts, hit) - 1
        message_id = self.items[index].message.id
        self._marks = (message_id, [text], hit - starts[index])
        view = self.message_view(message_id)
        if view is not None:
            self._mark(view, [text], hit - starts[index])
            self._show_mark(view, hit - starts[index])
        return hit + 1, total

    def clear_marks(self) -> None:
        if self._marks is not None:
            view = self._views.get(self._marks[0])
            if view is not None:
                for segment in _documents(view):
                    segment.setExtraSelections([])
        self._marks = None
        self._find = ("", -1)

    def _mark(self, view: MessageView, words: list[str], current: int) -> int:
        """Mark the words in the view's documents (the `current`-th hit stronger); how many."""
        plain = QTextCharFormat()
        plain.setBackground(QColor("#ffe066"))
        plain.setForeground(QColor("#1f2328"))
        strong = QTextCharFormat()
        strong.setBackground(QColor("#ff9632"))
        strong.setForeground(QColor("#1f2328"))
        found = 0
        for browser in _documents(view):
            marks = []
            for word in words:
                cursor = QTextCursor(browser.document())
                while True:
                    cursor = browser.document().find(word, cursor)
                    if cursor.isNull():
                        break
                    selection = QTextEdit.ExtraSelection()
                    selection.cursor = cursor
                    selection.format = strong if found == current else plain
                    marks.append(selection)
                    found += 1
            browser.setExtraSelections(marks)
        return found

    def _show_mark(self, view: MessageView, number: int) -> None:
        """Scroll so that the `number`-th mark in the view is in sight (the message's top if none)."""
        seen = 0
        for browser in _documents(view):
            marks = browser.extraSelections()
            if number < seen + len(marks):
                cursor = marks[number - seen].cursor
                rect = browser.cursorRect(cursor)
                y = browser.mapTo(view, QPoint(0, rect.top())).y()
                top = self.message_top(view.message.id)
                shown = top is not None and 0 <= top + y and top + y + rect.height() <= self.viewport().height()
                if not shown:  # (in sight already: the view stays put)
                    self.scroll_to_message(view.message.id, at=self.viewport().height() // 3 - y)
                return
            seen += len(marks)
        self.scroll_to_message(view.message.id)

    # Text

    def plain_text(self) -> str:
        """Every message's text as shown (laying out those not in view); for tests and reading."""
        return "\n\n".join(v.plain_text() for m in self.message_ids() if (v := self.message_view(m)) is not None)

    def body_documents(self, message_id: int) -> list[QTextDocument]:
        view = self.message_view(message_id)
        return view.body_documents() if view is not None else []


def _documents(view: MessageView) -> list[QTextBrowser]:
    """The documents of a message that words can be marked in: its reasoning if unfolded, its body."""
    thought: list[QTextBrowser] = []
    if view.reasoning is not None and view.reasoning.body.isVisibleTo(view):
        thought.append(view.reasoning.body)
    return thought + [s.body if isinstance(s, CodeSegmentView) else s for s in view.segments]


class _EmptyState(QWidget):
    """What a new chat shows: an invitation, and the keys."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("emptyState")
        self.picture = QLabel(self)
        self.title = QLabel("Start a conversation", self)
        self.hint = QLabel("Type below and press Enter. Shift+Enter adds a line; Esc stops a reply.", self)
        self.hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        for label in (self.picture, self.title, self.hint):
            label.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            layout.addWidget(label)
        layout.addStretch(3)

    def apply(self, look: Look) -> None:
        muted = QColor(look.palette.muted)
        self.picture.setPixmap(icon("message-square", muted).pixmap(40, 40))
        font = QFont(look.font)
        if font.pointSizeF() > 0:
            font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setWeight(QFont.Weight.DemiBold)
        self.title.setFont(font)
        colours = self.hint.palette()
        colours.setColor(self.hint.foregroundRole(), muted)
        self.hint.setPalette(colours)
        self.hint.setFont(look.font)


__all__ = ["MessageAction", "MessageItem", "TranscriptView"]
