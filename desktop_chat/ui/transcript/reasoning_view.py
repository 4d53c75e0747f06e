"""ReasoningView: the model's thinking above a reply's answer. A header that says how long
it thought ("Thinking… 4 s" with a running timer while it streams, then "Thought for 12 s")
and folds the text away or shows it; the text itself, muted, as it came (plain text:
thoughts are drafts, not a document to format); Copy for the thought alone.
"""

from __future__ import annotations

import math
import time

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QGuiApplication, QIcon, QPainter, QPaintEvent, QTextCursor
from PySide6.QtWidgets import QHBoxLayout, QToolButton, QWidget

from desktop_chat.core.conversation import ReasoningPart, thought_label
from desktop_chat.core.markdown import Palette
from desktop_chat.ui.icons import icon

from .segments import DocumentView, set_spacing

HEADER_HEIGHT = 28
INDENT = 12  # the text, right of the bar that marks it as thought


class ReasoningView(QWidget):
    # Folded or unfolded by the user (the message lays itself out again).
    toggled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reasoning")
        self.palette_ = Palette()
        self.expanded = False
        self.user_chose = False  # folded or unfolded by hand: never again by the app
        self.thinking = False
        self._started = 0.0
        self._seconds: float | None = None
        self._text_length = 0
        self._who = "reply"

        self.header = QWidget(self)
        row = QHBoxLayout(self.header)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(2)
        self.toggle = QToolButton(self.header)
        self.toggle.setObjectName("reasoningToggle")
        self.toggle.setAutoRaise(True)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setCursor(Qt.CursorShape.PointingHandCursor)
        self.toggle.setFocusPolicy(Qt.FocusPolicy.ClickFocus)  # (Tab to it: TranscriptView)
        self.toggle.clicked.connect(self._toggle_by_hand)
        self.copy_button = QToolButton(self.header)
        self.copy_button.setObjectName("reasoningCopy")
        self.copy_button.setAutoRaise(True)
        self.copy_button.setToolTip("Copy the reasoning")
        self.copy_button.setFixedSize(HEADER_HEIGHT, HEADER_HEIGHT)
        self.copy_button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.copy_button.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text()))
        row.addWidget(self.toggle)
        row.addWidget(self.copy_button)
        row.addStretch(1)

        self.body = DocumentView(self)
        self.body.setObjectName("reasoningText")
        self.body.setVisible(False)
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._show_label)

    # What it shows

    def apply_look(self, palette: Palette, font: QFont) -> None:
        self.palette_ = palette
        smaller = QFont(font)
        if font.pointSizeF() > 0:
            smaller.setPointSizeF(max(6.0, font.pointSizeF() * 0.9))
        self.toggle.setFont(smaller)
        self.toggle.setStyleSheet(f"color: {palette.muted}")
        self.body.setFont(smaller)
        self.body.setStyleSheet(f"color: {palette.muted}")
        self.copy_button.setIcon(icon("copy", palette.muted))
        self._show_label()

    def set_author(self, who: str) -> None:
        self._who = who
        self.body.setAccessibleName(f"Reasoning of {who}")
        self.copy_button.setAccessibleName(f"Copy the reasoning of {who}")
        self._show_label()

    def show_part(self, part: ReasoningPart, expanded: bool) -> None:
        """A finished thought."""
        self.thinking = False
        self._timer.stop()
        self._seconds = part.seconds
        if self.body.toPlainText() != part.text:
            self.body.setPlainText(part.text)
            set_spacing(self.body)
        self._text_length = len(part.text)
        if not self.user_chose:
            self.expanded = expanded and bool(part.text)
        self._apply_expanded()

    def reset(self) -> None:
        """Nothing of the message it showed (the view is shown for another)."""
        self._timer.stop()
        self.thinking = False
        self.user_chose = False
        self.expanded = False
        self._seconds = None
        self._text_length = 0
        self.body.clear()
        self.hide()

    def begin(self, started: float | None = None) -> None:
        """A reply starts: it may think; the clock runs from the request."""
        self.thinking = True
        self._started = started if started is not None else time.monotonic()
        self._seconds = None
        self.user_chose = False
        self.expanded = True
        self.body.clear()
        self._text_length = 0
        self._timer.start()
        self._apply_expanded()

    def append(self, text: str) -> None:
        if not text:
            return
        cursor = QTextCursor(self.body.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        self._text_length += len(text)
        if self._text_length == len(text):  # the first words: spacing, and the text shown
            set_spacing(self.body)
            self._apply_expanded()

    def set_text(self, text: str) -> None:
        self.body.setPlainText(text)
        set_spacing(self.body)
        self._text_length = len(text)
        self._apply_expanded()

    def end_thinking(self, fold: bool) -> None:
        """The answer started: the clock stops; folded away unless the user chose."""
        if not self.thinking:
            return
        self.thinking = False
        self._timer.stop()
        self._seconds = time.monotonic() - self._started
        if fold and not self.user_chose:
            self.expanded = False
        self._apply_expanded()

    def text(self) -> str:
        return self.body.toPlainText()

    def unfold(self) -> None:
        if not self.expanded:
            self._toggle_by_hand()

    def _toggle_by_hand(self) -> None:
        self.user_chose = True
        self.expanded = not self.expanded
        self._apply_expanded()
        self.toggled.emit()

    def _apply_expanded(self) -> None:
        has_text = self._text_length > 0
        self.body.setVisible(self.expanded and has_text)
        # (Copy with the text it copies in sight, as a code block's.)
        self.copy_button.setVisible(has_text and self.expanded and not self.thinking)
        self.toggle.setEnabled(has_text)
        self._show_label()

    def _show_label(self) -> None:
        if self.thinking:
            seconds = max(0, math.floor(time.monotonic() - self._started))
            label = f"Thinking… {seconds} s" if seconds else "Thinking…"
        else:
            label = thought_label(ReasoningPart("", self._seconds))
        self.toggle.setText(label)
        has_text = self._text_length > 0
        chevron = "chevron-down" if self.expanded and has_text else "chevron-right"
        self.toggle.setIcon(icon(chevron, self.palette_.muted) if has_text else QIcon())
        action = "Hide" if self.expanded else "Show"
        self.toggle.setAccessibleName(f"{label}. {action} the reasoning of {self._who}" if has_text else label)
        self.toggle.setToolTip(f"{action} the reasoning" if has_text else "")

    # Layout

    def height_for(self, width: int) -> int:
        self.header.setGeometry(0, 0, width, HEADER_HEIGHT)
        height = HEADER_HEIGHT
        if self.body.isVisibleTo(self):
            inner = max(1, width - INDENT)
            text_height = self.body.height_for(inner)
            self.body.setGeometry(INDENT, height + 4, inner, text_height)
            height += 4 + text_height + 6
        return height

    def paintEvent(self, event: QPaintEvent) -> None:
        if self.body.isVisible():
            painter = QPainter(self)
            painter.fillRect(2, self.body.y(), 2, self.body.height(), QColor(self.palette_.quote_border))
