"""Composer: the multi-line box where the user writes. Enter sends, Shift+Enter breaks a line."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QPlainTextEdit, QSizePolicy, QWidget


class Composer(QPlainTextEdit):
    submitted = Signal(str)
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self.setAccessibleName("Message")
        self.setPlaceholderText("Message the model — Enter to send, Shift+Enter for a new line")
        self.setTabChangesFocus(True)
        self.setMinimumHeight(56)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)

    def sizeHint(self) -> QSize:
        # About four lines: room to write without taking the transcript's space.
        hint = super().sizeHint()
        return QSize(hint.width(), self.fontMetrics().lineSpacing() * 4 + 20)

    def event(self, event: QEvent) -> bool:
        # Text edits claim Ctrl+K (delete to end of line); here it opens search.
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            if event.key() == Qt.Key.Key_K and event.modifiers() == Qt.KeyboardModifier.ControlModifier:
                event.ignore()
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
                return
            if not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:
                self.submit()
                return
        if event.key() == Qt.Key.Key_Escape:
            self.cancelRequested.emit()
            return
        super().keyPressEvent(event)

    def submit(self) -> None:
        text = self.toPlainText()
        if text.strip():
            self.submitted.emit(text)

    def insertFromMimeData(self, source: QMimeData) -> None:
        # Paste as plain text in one edit: rich pastes and huge ones stay cheap.
        if source.hasText():
            self.textCursor().insertText(source.text())
        else:
            super().insertFromMimeData(source)
